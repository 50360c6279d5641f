//! The controller's tokio shell: starts the sources, the HTTP server and the drop reader,
//! then waits (for notices, the next wake-up the decisions ask for, a kernel reading,
//! SIGTERM) and hands every wake-up to the [`Driver`], which decides and carries out.
//! The drift check's reading of the kernel runs on a blocking thread of its own. SIGTERM
//! ends the loop and leaves the rules in place.

use crate::conntrack::{self, Revoker};
use crate::decide::Timing;
use crate::drive::{Driver, ReadRequest};
use crate::enforcer::{read_kernel, Enforcer, KernelView};
use crate::error::Error;
use crate::state::{Listing, Shared};
use crate::{drops, http, manifests, watch};
use anyhow::Context;
use netfence_nft::{Kept, Kernel, Nft, NodeView, RenderOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: Option<String>,
    pub manifests: Option<PathBuf>,
    /// Where /metrics, /healthz, /readyz and /drops are served.
    pub metrics_addrs: Vec<SocketAddr>,
    /// HTTP limits and health bounds.
    pub http: http::Options,
    pub coalesce: Duration,
    pub resync: Duration,
    pub poll: Duration,
    /// How often the API server's discovery is read for the tiered policies' CRDs.
    pub discovery: Duration,
    pub cut_established: bool,
    /// Batch size and rate of conntrack deletions.
    pub revoke: conntrack::Limits,
    /// Explicit unprogrammed-pod guard CIDRs (`--drop-unprogrammed`).
    pub guard: Vec<ipnet::IpNet>,
    /// Without explicit CIDRs: guard the node's own `spec.podCIDRs` (cluster mode).
    pub guard_from_node: bool,
    pub nflog_group: u16,
    pub node_addrs: Vec<IpAddr>,
    pub netns: Option<String>,
    /// An `nft` binary to run for every change (None: deltas through libnftables).
    pub nft: Option<String>,
}

/// How the controller reaches nftables: deltas through a kept libnftables context,
/// unless an `nft` binary is named or libnftables cannot be loaded.
fn kernel_access(cfg: &Config) -> Kernel {
    let binary = |program: &str| {
        let mut nft = match &cfg.netns {
            Some(ns) => Nft::in_netns(ns),
            None => Nft::default(),
        };
        nft.program = program.to_string();
        nft
    };
    if let Some(program) = &cfg.nft {
        return binary(program).into();
    }
    match Kept::start(cfg.netns.as_deref()) {
        Ok(kept) => kept.into(),
        Err(e) => {
            tracing::warn!(error = %e, "no libnftables context; running nft for every change (slower)");
            binary("nft").into()
        }
    }
}

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let guard_from_node = cfg.guard_from_node && cfg.guard.is_empty() && cfg.manifests.is_none();
    let mut expected: Vec<Listing> = if cfg.manifests.is_some() {
        vec![Listing::Manifests]
    } else {
        watch::listings()
    };
    if guard_from_node {
        expected.push(Listing::Node);
    }
    let shared = Arc::new(Shared::new(&expected));
    shared.metrics.guard_cidrs.set(cfg.guard.len() as i64);
    let mut listeners = Vec::new();
    for addr in &cfg.metrics_addrs {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "serving /metrics, /healthz, /readyz, /drops");
        listeners.push(listener);
    }
    http::spawn(listeners, shared.clone(), cfg.http);
    match &cfg.manifests {
        Some(dir) => {
            tokio::spawn(manifests::run(dir.clone(), cfg.poll, shared.clone()));
        }
        None => {
            let client = kube::Client::try_default().await?;
            let node = guard_from_node.then(|| cfg.node_name.clone()).flatten();
            tokio::spawn(watch::run(client, shared.clone(), node, cfg.discovery));
        }
    }
    if cfg.nflog_group != 0 {
        drops::spawn(cfg.nflog_group, cfg.netns.clone(), shared.clone());
    }
    let enforcer = Enforcer::new(
        NodeView {
            name: cfg.node_name.clone(),
            addrs: cfg.node_addrs.clone(),
        },
        RenderOptions {
            counters: true,
            log_group: (cfg.nflog_group != 0).then_some(cfg.nflog_group),
            unprogrammed_guard: cfg.guard.clone(),
        },
        kernel_access(&cfg),
        cfg.cut_established
            .then(|| Revoker::spawn(cfg.netns.clone(), cfg.revoke, shared.clone())),
    );
    let timing = Timing::new(cfg.coalesce, cfg.resync);
    let mut driver = Driver::new(
        Instant::now(),
        timing,
        enforcer,
        shared.clone(),
        guard_from_node,
    );
    let mut term = signal(SignalKind::terminate())?;
    // The drift check's reading of the kernel, in flight on a thread of its own: a
    // listing of every element takes long at scale and must not hold up reconciles.
    let mut reading: Option<(u64, tokio::task::JoinHandle<Result<KernelView, Error>>)> = None;
    // Wakes the loop when idle, so that a live loop reports cycles (liveness).
    let mut heartbeat =
        tokio::time::interval((cfg.http.health.stall / 4).max(Duration::from_millis(100)));
    loop {
        shared.health.cycle(Instant::now());
        let wake = tokio::time::Instant::from_std(driver.next_wake());
        let request = tokio::select! {
            _ = heartbeat.tick() => continue,
            _ = shared.feed.notified() => tokio::task::block_in_place(|| driver.poll(Instant::now())),
            _ = tokio::time::sleep_until(wake) => tokio::task::block_in_place(|| driver.poll(Instant::now())),
            read = async { (&mut reading.as_mut().expect("guarded").1).await }, if reading.is_some() => {
                let (writes, _) = reading.take().expect("guarded");
                let read = read.unwrap_or_else(|e| Err(Error::DriftCheck(format!("the reading's task: {e}"))));
                tokio::task::block_in_place(|| driver.kernel_read(Instant::now(), writes, read))
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        if let Some(ReadRequest { writes }) = request {
            let backend = driver.backend().clone();
            let task = tokio::task::spawn_blocking(move || read_kernel(&backend, writes));
            reading = Some((writes, task));
        }
    }
    tracing::info!("shutting down; the rules stay in place");
    Ok(())
}
