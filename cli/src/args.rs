//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-netfence",
    version,
    about = "Who may talk to whom under your NetworkPolicies, from manifests or a live cluster",
    after_help = "Exit codes: 0 allowed, 1 denied, 2 error.\n\
                  Without -f, the cluster of the current kubeconfig context is read."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Can FROM reach TO (on a port)? Exit 0 if allowed, 1 if denied.
    CanReach(CanReachArgs),
    /// Why FROM can or cannot reach TO: isolation, selecting policies, the deciding rule.
    Explain(CanReachArgs),
    /// Reachability between every ordered pair of pods (or workloads).
    Matrix(MatrixArgs),
    /// The nftables ruleset that enforces the policies on a node (`nft -f` accepts it).
    Compile(CompileArgs),
}

/// Where objects are read from.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Manifest file or directory (recursive); '-' reads stdin. Repeatable.
    /// Without -f, the live cluster is read.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub files: Vec<String>,
    /// Analyze the valid objects even if some are invalid (errors still printed).
    #[arg(long)]
    pub keep_going: bool,
    /// Namespace for names given without one (and for manifest objects without one);
    /// also restricts the matrix to this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Show every namespace (the default for the matrix).
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// kubeconfig context to use for the live cluster.
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReachFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyArg {
    Ipv4,
    Ipv6,
}

#[derive(Args, Debug)]
pub struct CanReachArgs {
    /// Source: ns/name (pod or workload), ns/kind/name, name (in -n), or an IP/CIDR.
    pub from: String,
    /// Destination: as FROM, or ns/svc/name for a Service (port -> targetPort).
    pub to: String,
    /// Port number or name (a container port name of the destination, or a Service port
    /// name). Without it: is any port allowed, and which.
    #[arg(short, long)]
    pub port: Option<String>,
    /// TCP, UDP or SCTP (default TCP when a port is given; any otherwise).
    #[arg(long)]
    pub protocol: Option<String>,
    /// Only this address family (default: allowed over any family both ends have).
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// Print the explanation (as the explain command does).
    #[arg(long)]
    pub explain: bool,
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: ReachFormat,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixFormat {
    Table,
    Json,
    Csv,
    Dot,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Pod,
    Workload,
}

#[derive(Args, Debug)]
pub struct MatrixArgs {
    /// Port column: 80, 80/TCP, 53/UDP, http, http/TCP. Repeatable. Default: every
    /// container port declared by the shown endpoints (80/TCP if none).
    #[arg(short, long = "port", value_name = "PORT[/PROTO]")]
    pub ports: Vec<String>,
    /// Rows and columns: pods (and workload templates), or workloads.
    #[arg(long, value_enum, default_value = "pod")]
    pub by: GroupBy,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: MatrixFormat,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RulesetFormat {
    Nft,
    Json,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// Enforce the pods whose spec.nodeName is NODE (default: every pod).
    #[arg(long)]
    pub node: Option<String>,
    /// An address of the node (traffic from it is node-local); repeatable. The hostIPs
    /// of the node's pods are added automatically.
    #[arg(long = "node-addr", value_name = "IP")]
    pub node_addrs: Vec<std::net::IpAddr>,
    /// Count packets per allow rule and per policy drop.
    #[arg(long)]
    pub counters: bool,
    #[arg(short = 'o', long = "output", value_enum, default_value = "nft")]
    pub output: RulesetFormat,
    /// Print the ruleset's size (chains, rules, sets, elements) on stderr.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub input: InputArgs,
}
