//! The controller's main loop: sources feed the store; after every (coalesced) change,
//! once every source has synced, the enforcer brings the kernel in step; a timer checks
//! for drift. SIGTERM ends the loop and leaves the rules in place.

use crate::conntrack::{self, Revoker};
use crate::enforcer::{read_kernel, Enforcer, Input, KernelView};
use crate::metrics::ErrorKind;
use crate::state::Shared;
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
    let started = Instant::now();
    let guard_from_node = cfg.guard_from_node && cfg.guard.is_empty() && cfg.manifests.is_none();
    let mut kinds: Vec<&'static str> = if cfg.manifests.is_some() {
        manifests::KINDS.to_vec()
    } else {
        watch::KINDS.to_vec()
    };
    if guard_from_node {
        kinds.push(watch::NODE);
    }
    let shared = Arc::new(Shared::new(&kinds));
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
            tokio::spawn(watch::run(client, shared.clone(), node));
        }
    }
    if cfg.nflog_group != 0 {
        drops::spawn(cfg.nflog_group, cfg.netns.clone(), shared.clone());
    }
    let mut enforcer = Enforcer {
        node: NodeView {
            name: cfg.node_name.clone(),
            addrs: cfg.node_addrs.clone(),
        },
        opts: RenderOptions {
            counters: true,
            log_group: (cfg.nflog_group != 0).then_some(cfg.nflog_group),
            unprogrammed_guard: cfg.guard.clone(),
        },
        nft: kernel_access(&cfg),
        revoker: Revoker::spawn(cfg.netns.clone(), cfg.revoke, shared.clone()),
        cut_established: cfg.cut_established,
        applied: None,
        applied_generation: None,
        sets: Default::default(),
        writes: 0,
    };
    let mut term = signal(SignalKind::terminate())?;
    let mut drift = tokio::time::interval(cfg.resync);
    drift.tick().await;
    // The drift check's reading of the kernel, in flight on a thread of its own: a
    // listing of every element takes long at scale and must not hold up reconciles.
    let mut reading: Option<tokio::task::JoinHandle<anyhow::Result<KernelView>>> = None;
    let mut backoff = Duration::from_millis(100);
    // Wakes the loop when idle, so that a live loop reports cycles (liveness).
    let mut heartbeat =
        tokio::time::interval((cfg.http.health.stall / 4).max(Duration::from_millis(100)));
    loop {
        shared.health.cycle(Instant::now());
        tokio::select! {
            _ = heartbeat.tick() => continue,
            _ = shared.changed.notified() => {}
            _ = drift.tick() => {
                if shared.is_ready() && reading.is_none() {
                    let (nft, writes) = (enforcer.nft.clone(), enforcer.writes);
                    reading = Some(tokio::task::spawn_blocking(move || read_kernel(&nft, writes)));
                }
                continue;
            }
            read = async { reading.as_mut().expect("guarded").await }, if reading.is_some() => {
                reading = None;
                let checked = match read {
                    Ok(Ok(view)) => tokio::task::block_in_place(|| enforcer.check_drift(&shared, view)),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(e.into()),
                };
                if let Err(e) = checked {
                    tracing::warn!(error = %e, "drift check failed");
                    shared.metrics.error(ErrorKind::DriftCheck);
                }
                continue;
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        if !shared.all_synced() {
            continue;
        }
        // Coalesce: a burst of changes becomes one transaction.
        tokio::time::sleep(cfg.coalesce).await;
        loop {
            let (input, generation) = {
                let mut store = shared.store.lock().expect("lock");
                if enforcer.applied_generation == Some(store.generation) {
                    shared.health.in_step();
                    break;
                }
                shared.metrics.objects.set(store.len() as i64);
                if guard_from_node {
                    let cidrs = store.node_pod_cidrs().unwrap_or_default().to_vec();
                    shared.metrics.guard_cidrs.set(cidrs.len() as i64);
                    enforcer.opts.unprogrammed_guard = cidrs;
                }
                let changes = store.take_changes();
                // Before the first model, and for anything but pod events: everything.
                let input = if changes.everything || enforcer.applied_generation.is_none() {
                    Input::Objects(store.objects())
                } else {
                    Input::Pods(changes.pods)
                };
                (input, store.generation)
            };
            let snapshot = Instant::now();
            shared.health.behind(snapshot);
            let since = shared.pending_since.lock().expect("lock").take();
            let objects = || shared.store.lock().expect("lock").objects();
            match tokio::task::block_in_place(|| {
                enforcer.reconcile(&shared, input, generation, objects)
            }) {
                Ok(applied) => {
                    shared.health.applied(snapshot, Instant::now());
                    if let Some(t) = since {
                        shared
                            .metrics
                            .event_to_kernel_seconds
                            .observe(t.elapsed().as_secs_f64());
                    }
                    tokio::task::block_in_place(|| enforcer.after_apply(&shared, applied));
                    if !shared.is_ready() {
                        tracing::info!(
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "synced and enforcing"
                        );
                        shared.set_ready();
                    }
                    backoff = Duration::from_millis(100);
                    // More changes arrived meanwhile: let the rest of the burst land too.
                    if shared.store.lock().expect("lock").generation != generation {
                        tokio::time::sleep(cfg.coalesce).await;
                    }
                }
                Err(e) => {
                    shared.health.apply_failed(&e, Instant::now());
                    // The kernel keeps the previous rules (transactions are atomic).
                    tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "applying the ruleset failed; the previous rules stay");
                    shared.metrics.error(ErrorKind::Apply);
                    {
                        let mut p = shared.pending_since.lock().expect("lock");
                        *p = p.or(since);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = term.recv() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
    tracing::info!("shutting down; the rules stay in place");
    Ok(())
}
