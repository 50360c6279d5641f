//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-netfence",
    version,
    about = "Who may talk to whom under your NetworkPolicies, from manifests or a live cluster",
    after_help = "Exit codes: 0 allowed, 1 denied, 2 error.\n\
                  Without -f or -k, the cluster of the current kubeconfig context is read."
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
    /// Check the policies for mistakes (catalogue: `lint --list`, `lint --explain ID`).
    /// Exit 1 if a finding is at or above --fail-on.
    Lint(LintArgs),
    /// Flows that become allowed or denied between two versions of the manifests.
    Diff(DiffArgs),
    /// Which workloads are isolated for ingress and egress, by namespace.
    Coverage(CoverageArgs),
    /// Which policies dropped what: a node's netfence-controller drop report.
    Drops(DropsArgs),
}

/// Where objects are read from.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Manifest file or directory (recursive); '-' reads stdin. Repeatable.
    /// Without -f or -k, the live cluster is read.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub files: Vec<String>,
    /// Kustomization directory, rendered with `kubectl kustomize` (or `kustomize build`)
    /// as `kubectl apply -k` would. Repeatable.
    #[arg(short = 'k', long = "kustomize", value_name = "DIR")]
    pub kustomize: Vec<String>,
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Text,
    Json,
    Sarif,
    Github,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 no finding at or above --fail-on, 1 otherwise, 2 error \
                  (unreadable input or config; invalid objects are findings, NF001/NF403).\n\
                  Without --config, ./.netfence-lint.yaml is read if it exists."
)]
pub struct LintArgs {
    /// Print what check ID finds, why it matters and how to fix it.
    #[arg(long, value_name = "ID", conflicts_with = "list")]
    pub explain: Option<String>,
    /// Print the catalogue of checks.
    #[arg(long)]
    pub list: bool,
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: LintFormat,
    /// Exit 1 when a finding has this severity or a higher one.
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: FailOn,
    /// Lint configuration (disable, enable, ignore, networks).
    #[arg(long, value_name = "PATH", conflicts_with = "no_config")]
    pub config: Option<std::path::PathBuf>,
    /// Do not read ./.netfence-lint.yaml.
    #[arg(long)]
    pub no_config: bool,
    /// Also report namespaces and workloads without isolating policies (NF701-NF703).
    #[arg(long)]
    pub coverage: bool,
    /// Turn a check off; repeatable.
    #[arg(long, value_name = "ID")]
    pub disable: Vec<String>,
    /// Turn an off-by-default check on; repeatable.
    #[arg(long, value_name = "ID")]
    pub enable: Vec<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0, or 1 with --fail-on-new-allow when a flow becomes allowed; 2 error.\n\
                  With --base-ref/--head-ref, -f names paths inside the git repository (files or \
                  directories, as at that commit); without --head/--head-ref, head is -f in the \
                  working tree."
)]
pub struct DiffArgs {
    /// The old version: manifest files or directories; repeatable.
    #[arg(long, value_name = "PATH", conflicts_with = "base_ref")]
    pub base: Vec<String>,
    /// The new version: manifest files or directories; repeatable.
    #[arg(long, value_name = "PATH", conflicts_with = "head_ref")]
    pub head: Vec<String>,
    /// The old version: the -f paths at this git revision.
    #[arg(long, value_name = "REF")]
    pub base_ref: Option<String>,
    /// The new version: the -f paths at this git revision.
    #[arg(long, value_name = "REF")]
    pub head_ref: Option<String>,
    /// Paths read at --base-ref/--head-ref (or in the working tree for head).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub files: Vec<String>,
    /// The git repository for --base-ref/--head-ref.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: std::path::PathBuf,
    /// Port to compare: 80, 80/TCP, 53/UDP, http; repeatable. Added to the default: every
    /// container port declared in either version.
    #[arg(short, long = "port", value_name = "PORT[/PROTO]")]
    pub ports: Vec<String>,
    /// Compare workloads (pods grouped by owner) or single pods.
    #[arg(long, value_enum, default_value = "workload")]
    pub by: GroupBy,
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: DiffFormat,
    /// Exit 1 if any flow becomes allowed.
    #[arg(long)]
    pub fail_on_new_allow: bool,
    /// Namespace for manifest objects without one.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Compare the valid objects even if some are invalid (errors still printed).
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverageFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct CoverageArgs {
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: CoverageFormat,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropsFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct DropsArgs {
    /// The controller's metrics address (its /drops endpoint). The controller answers
    /// /drops to loopback peers only: reach it through `kubectl port-forward` to the
    /// controller pod, or run this inside it with `kubectl exec`.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub url: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: DropsFormat,
}
