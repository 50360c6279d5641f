//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-netfence",
    version = crate::version::VERSION,
    about = "Who may talk to whom under your NetworkPolicies, from manifests or a live cluster",
    after_help = "Exit codes: 0 allowed, 1 denied, 2 error, 3 unknown (can-reach and explain: the \
                  answer depends on what the input does not show, such as the labels of a \
                  namespace that is only referenced or the address of a template pod).\n\
                  Without -f or -k, the cluster of the current kubeconfig context is read."
)]
pub struct Cli {
    #[command(flatten)]
    pub kube: KubeconfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's kubeconfig flags, taken by every command (kubectl refuses flags before a
/// plugin's name, so the plugin reads them). Commands that read no cluster ignore them.
#[derive(Args, Debug, Clone, Default)]
pub struct KubeconfigArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG's files, else ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig cluster to use (instead of the context's).
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The kubeconfig user to use (instead of the context's).
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// How long to wait for each request to the API server: 0 (no limit), 30s, 1m, 2m30s,
    /// or plain seconds.
    #[arg(long, global = true, value_name = "DURATION", value_parser = crate::timeout::parse_request_timeout)]
    pub request_timeout: Option<crate::timeout::RequestTimeout>,
}

impl KubeconfigArgs {
    pub fn connect_options(&self) -> netfence_loader::connect::ConnectOptions {
        netfence_loader::connect::ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
            request_timeout: self.request_timeout.and_then(|t| t.0),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Can FROM reach TO (on a port)? Exit 0 if allowed, 1 if denied, 3 if unknown.
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
    /// Print the version and the git commit it was built from.
    Version,
    /// Print a shell completion script (bash, zsh or fish) for kubectl-netfence; for
    /// `kubectl netfence`, install kubectl_complete-netfence beside the binary.
    Completion(CompletionArgs),
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
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
    /// The namespace of names given without one and of manifest objects without one, as
    /// `kubectl apply -n`: a manifest object written in another namespace is invalid.
    /// Default: the kubeconfig context's namespace (cluster), `default` (files).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Look names given without a namespace up in every namespace (can-reach, explain).
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// The pod network: pods without a known address (workload templates, stand-ins) get
    /// theirs from these CIDRs. Repeatable. Default: `networks.pods` of
    /// ./.netfence-lint.yaml, if any; else unknown.
    #[arg(long = "pod-cidr", value_name = "CIDR", value_parser = pod_cidr)]
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// Stand-ins for the pods operators create from custom resources: a YAML list of
    /// {kind, group, labels, ports}, added to (or replacing) the built-in ones.
    #[arg(long = "stand-ins", value_name = "FILE")]
    pub stand_ins: Option<std::path::PathBuf>,
    /// The global kubeconfig flags, set from [`Cli::kube`] before the command runs.
    #[arg(skip)]
    pub kube: KubeconfigArgs,
}

fn pod_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    netfence_model::addr::parse_cidr(s)
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

/// How FROM and TO are read (shown by `can-reach --help` and `explain --help`).
const NAMES_HELP: &str = "Names: NAME, KIND/NAME, NS/NAME, NS/KIND/NAME, an IP or a CIDR. KIND is \
    any spelling kubectl accepts (po, pod, pods, deploy, deployment.apps, sts, ds, rs, rc, job, \
    cj, svc, ...). Without NS, the -n namespace (every namespace with -A). A/B is KIND/NAME when \
    A is a kind, else NS/NAME: a namespace named like a kind is written NS/KIND/NAME.\n\
    A label selector in kubectl's syntax names every pod or workload it matches: app=web, \
    'tier in (front,edge)', '!canary', app!=web,env=prod (comma = AND); NS/app=web in NS, \
    '*/app=web' in every namespace. A lone KEY reads as a name.";

#[derive(Args, Debug)]
#[command(after_help = NAMES_HELP)]
pub struct CanReachArgs {
    /// Source: a pod, a workload, a label selector, or an IP/CIDR (see Names below).
    pub from: String,
    /// Destination: as FROM, or a Service (svc/NAME: port -> targetPort).
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
    /// One line per allowed pair: `src => dst : TCP 80,443; UDP 53`.
    List,
    /// The list as a JSON array of {"src", "dst", "conn"}.
    ListJson,
    Dot,
    /// The dot graph laid out by Graphviz (`dot -Tsvg`, which must be on PATH).
    Svg,
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
    /// Rows (sources): this pod or workload (pod, ns/name, ns/kind/name, IP).
    /// Repeatable; with --from-namespace, the union.
    #[arg(long, value_name = "NAME")]
    pub from: Vec<String>,
    /// Columns (destinations): this pod or workload. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub to: Vec<String>,
    /// Rows: the pods and workloads of this namespace. Repeatable.
    #[arg(long, value_name = "NS")]
    pub from_namespace: Vec<String>,
    /// Columns: the pods and workloads of this namespace. Repeatable.
    #[arg(long, value_name = "NS")]
    pub to_namespace: Vec<String>,
    /// Show ports the destination does not listen on: by default -o list, list-json,
    /// dot and svg show only the destination's declared container ports (every port
    /// when it declares none), and the table marks undeclared port columns with `·`.
    #[arg(long)]
    pub all_ports: bool,
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
    /// Only report findings about objects of this namespace; repeatable (invalid
    /// manifests are always reported). Default: every namespace.
    #[arg(long, value_name = "NS")]
    pub show_namespace: Vec<String>,
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
    /// Also flows to a destination on ports it does not declare (by default a pod counts
    /// only on its declared container ports; one that declares none, on every port).
    #[arg(long)]
    pub all_ports: bool,
    /// Leave out the flows to and from addresses outside the cluster (by default each
    /// class of addresses the policies tell apart is compared, as CIDRs).
    #[arg(long)]
    pub no_outside: bool,
    /// Namespace for manifest objects without one, as `kubectl apply -n`: an object
    /// written in another namespace is invalid. Default: `default`.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Compare the valid objects even if some are invalid (errors still printed).
    #[arg(long)]
    pub keep_going: bool,
    /// Refused: diff always compares every namespace.
    #[arg(short = 'A', long = "all-namespaces", hide = true)]
    pub all_namespaces: bool,
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
    /// Only show this namespace; repeatable. Default: every namespace.
    #[arg(long, value_name = "NS")]
    pub show_namespace: Vec<String>,
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
    /// Refused: the report is one node's, of every namespace.
    #[arg(short = 'A', long = "all-namespaces", hide = true)]
    pub all_namespaces: bool,
}
