//! `netfence-controller`: the per-node enforcer (run as a DaemonSet), or `cleanup`.

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Address of /metrics, /healthz, /readyz and /drops.
    #[arg(long, default_value = "0.0.0.0:9090")]
    metrics_addr: SocketAddr,
    /// Changes arriving within this window are applied in one transaction.
    #[arg(long, default_value_t = 10)]
    coalesce_ms: u64,
    /// Every so often the kernel table is read back and repaired if it drifted.
    #[arg(long, default_value_t = 30)]
    resync_seconds: u64,
    /// Standalone mode: how often the directory is checked for changes.
    #[arg(long, default_value_t = 250)]
    poll_ms: u64,
    /// Keep connections that a policy change denies (by default they are cut).
    #[arg(long)]
    keep_established: bool,
    /// The node's pod CIDR: traffic of pod addresses not programmed yet is dropped
    /// (closes the start-up gap of new pods). Repeatable.
    #[arg(long = "drop-unprogrammed", value_name = "CIDR")]
    guard: Vec<ipnet::IpNet>,
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
    if cli.node_name.is_none() && cli.manifests.is_none() {
        anyhow::bail!("--node-name (or NODE_NAME) is required with an API server");
    }
    let cfg = Config {
        node_name: cli.node_name,
        manifests: cli.manifests,
        metrics_addr: cli.metrics_addr,
        coalesce: Duration::from_millis(cli.coalesce_ms),
        resync: Duration::from_secs(cli.resync_seconds.max(1)),
        poll: Duration::from_millis(cli.poll_ms.max(10)),
        cut_established: !cli.keep_established,
        guard: cli.guard,
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
