//! `netfence-controller`: the per-node enforcer (run as a DaemonSet), or `cleanup`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use netfence_controller::http;
use netfence_controller::run::{run, Config};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "netfence-controller",
    version,
    about = "Keeps this node's nftables in step with the cluster's NetworkPolicies"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The node whose pods are enforced (pods with this spec.nodeName).
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
    /// Standalone mode: enforce the manifests of this directory instead of an API server.
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Address of /metrics, /healthz, /readyz and /drops: IP:PORT or a bare IP (port
    /// 9090). Repeatable. /drops is answered to loopback peers only.
    #[arg(long, default_value = "127.0.0.1:9090", value_parser = http::parse_listen_addr)]
    metrics_addr: Vec<SocketAddr>,
    /// Open HTTP connections at most; when full, the oldest one that has not sent its
    /// request is closed to make room.
    #[arg(long, env = "NETFENCE_HTTP_MAX_CONNECTIONS", default_value_t = 64)]
    http_max_connections: usize,
    /// Time an HTTP connection gets to send its request and take the answer.
    #[arg(long, env = "NETFENCE_HTTP_TIMEOUT_SECONDS", default_value_t = 5)]
    http_timeout_seconds: u64,
    /// /healthz fails when the reconcile loop has not completed a cycle for this long
    /// (at least 15: more than the apply retry backoff).
    #[arg(long, env = "NETFENCE_LIVENESS_STALL_SECONDS", default_value_t = 60)]
    liveness_stall_seconds: u64,
    /// /readyz fails when the kernel has been behind the desired state for this long
    /// (and at once when the last apply failed).
    #[arg(long, env = "NETFENCE_READINESS_LAG_SECONDS", default_value_t = 30)]
    readiness_lag_seconds: u64,
    /// Changes arriving within this window are applied in one transaction.
    #[arg(long, default_value_t = 10)]
    coalesce_ms: u64,
    /// Every so often the kernel table is read back and repaired if it drifted.
    #[arg(long, default_value_t = 30)]
    resync_seconds: u64,
    /// How often the API server is asked which of the tiered policies' kinds
    /// (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) it serves:
    /// their CRDs may be installed or removed at any time.
    #[arg(long, default_value_t = 30)]
    discovery_seconds: u64,
    /// Standalone mode: how often the directory is checked for changes.
    #[arg(long, default_value_t = 250)]
    poll_ms: u64,
    /// Keep connections that a policy change denies (by default they are cut).
    #[arg(long)]
    keep_established: bool,
    /// Revoked connections deleted per second, at most (off the reconcile path).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    conntrack_delete_rate: u32,
    /// The node's pod CIDR: traffic of pod addresses not programmed yet is dropped
    /// (closes the start-up gap of new pods, and holds while the controller is down).
    /// Repeatable. Default with an API server: the node's own spec.podCIDRs.
    #[arg(long = "drop-unprogrammed", value_name = "CIDR")]
    guard: Vec<ipnet::IpNet>,
    /// No unprogrammed-pod guard (for clusters whose pod CIDRs are not per node).
    #[arg(long, conflicts_with = "guard")]
    no_drop_unprogrammed: bool,
    /// NFLOG group for dropped packets (0 disables drop reports).
    #[arg(long, default_value_t = 100)]
    nflog_group: u16,
    /// An address of this node (traffic from it is node-local). Repeatable; the hostIPs
    /// of the node's pods are added automatically.
    #[arg(long = "node-addr", value_name = "IP")]
    node_addrs: Vec<IpAddr>,
    /// Manage the nftables of this network namespace instead of the current one (tests,
    /// nested setups).
    #[arg(long, global = true)]
    netns: Option<String>,
    /// Run this `nft` binary for every kernel change, deltas included, instead of
    /// applying deltas through a libnftables context kept open (slower: 10-20 ms more
    /// per change; for a custom or wrapped nft).
    #[arg(long, value_name = "PATH")]
    nft: Option<String>,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Remove netfence's table (and nothing else) from the kernel: uninstall.
    Cleanup,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    if let Some(Command::Cleanup) = cli.command {
        let nft = match &cli.netns {
            Some(ns) => netfence_nft::Nft::in_netns(ns),
            None => netfence_nft::Nft::default(),
        };
        let existed = nft.delete_table().context("deleting table inet netfence")?;
        println!(
            "{}",
            if existed {
                "removed table inet netfence"
            } else {
                "table inet netfence was not present"
            }
        );
        return Ok(());
    }
    // A failing apply is retried after up to 10 s, with no cycle in between.
    anyhow::ensure!(
        cli.liveness_stall_seconds >= 15,
        "--liveness-stall-seconds must exceed the 10 s apply retry backoff (at least 15)"
    );
    if cli.node_name.is_none() && cli.manifests.is_none() {
        anyhow::bail!("--node-name (or NODE_NAME) is required with an API server");
    }
    let cfg = Config {
        node_name: cli.node_name,
        manifests: cli.manifests,
        metrics_addrs: cli.metrics_addr,
        http: http::Options {
            max_connections: cli.http_max_connections.max(1),
            timeout: Duration::from_secs(cli.http_timeout_seconds.max(1)),
            health: netfence_controller::health::Bounds {
                stall: Duration::from_secs(cli.liveness_stall_seconds),
                lag: Duration::from_secs(cli.readiness_lag_seconds.max(1)),
            },
        },
        coalesce: Duration::from_millis(cli.coalesce_ms),
        resync: Duration::from_secs(cli.resync_seconds.max(1)),
        poll: Duration::from_millis(cli.poll_ms.max(10)),
        discovery: Duration::from_secs(cli.discovery_seconds.max(1)),
        cut_established: !cli.keep_established,
        revoke: netfence_controller::conntrack::Limits {
            per_second: cli.conntrack_delete_rate,
            ..Default::default()
        },
        guard: cli.guard,
        guard_from_node: !cli.no_drop_unprogrammed,
        nflog_group: cli.nflog_group,
        node_addrs: cli.node_addrs,
        netns: cli.netns,
        nft: cli.nft,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(cfg))
}
