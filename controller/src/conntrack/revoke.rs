//! The revoker: cuts revoked connections on a task of its own, so that no reconcile
//! ever waits for it (a tenant who opens many connections cannot hold enforcement back).
//!
//! Jobs (a model snapshot) go through a one-slot mailbox: a newer job replaces one not
//! started yet (counted as dropped), and a running job gives way to a newer one after
//! its current batch, so the table is always judged by the newest policies while every
//! job still makes progress. Deletions go in batches of [`Limits::batch`] at no more
//! than [`Limits::per_second`].

use super::is_revoked;
use super::netlink::{CtSocket, Entry};
use crate::metrics::ErrorKind;
use crate::state::Shared;
use netfence_model::Model;
use netfence_nft::render::is_local;
use netfence_nft::NodeView;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How fast and how much the revoker deletes.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deletions per netlink batch.
    pub batch: usize,
    /// Deletions per second, at most.
    pub per_second: u32,
    /// Revoked entries one dump collects; the rest waits for the next round of the
    /// same job (memory stays bounded however big the table is).
    pub max_per_round: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            batch: 256,
            per_second: 20_000,
            max_per_round: 65_536,
        }
    }
}

struct Job {
    model: Arc<Model>,
    node: NodeView,
}

#[derive(Default)]
struct Mailbox {
    slot: Mutex<Option<Job>>,
    wake: Notify,
}

/// The reconcile's handle on the revoker task: [`Revoker::submit`] never blocks.
#[derive(Clone)]
pub struct Revoker {
    mailbox: Arc<Mailbox>,
    shared: Arc<Shared>,
}

impl Revoker {
    /// Starts the revoker task (inside `netns` when given) on the current runtime.
    pub fn spawn(netns: Option<String>, limits: Limits, shared: Arc<Shared>) -> Revoker {
        let mailbox = Arc::new(Mailbox::default());
        let task = Task {
            netns,
            limits,
            mailbox: mailbox.clone(),
            shared: shared.clone(),
        };
        tokio::spawn(task.run());
        Revoker { mailbox, shared }
    }

    /// Asks for the connections `model` denies to be cut; returns at once.
    pub fn submit(&self, model: Arc<Model>, node: &NodeView) {
        let job = Job {
            model,
            node: node.clone(),
        };
        let replaced = self.mailbox.slot.lock().expect("lock").replace(job);
        if replaced.is_some() {
            self.shared.metrics.revocations_dropped.inc();
        }
        self.mailbox.wake.notify_one();
    }
}

struct Task {
    netns: Option<String>,
    limits: Limits,
    mailbox: Arc<Mailbox>,
    shared: Arc<Shared>,
}

enum Outcome {
    Done,
    /// A newer job arrived: it takes over.
    Superseded,
    /// More revoked entries than one round holds: dump again.
    More,
}

impl Task {
    async fn run(self) {
        loop {
            let job = loop {
                if let Some(job) = self.mailbox.slot.lock().expect("lock").take() {
                    break job;
                }
                self.mailbox.wake.notified().await;
            };
            let local: Arc<HashSet<IpAddr>> = Arc::new(
                job.model
                    .cluster
                    .endpoints
                    .iter()
                    .filter(|e| is_local(e, &job.node))
                    .flat_map(|e| e.addrs.iter().copied())
                    .collect(),
            );
            loop {
                match self.round(&job.model, &local).await {
                    Ok(Outcome::More) => continue,
                    Ok(Outcome::Done) => {
                        tracing::debug!("revocation done");
                        break;
                    }
                    Ok(Outcome::Superseded) => {
                        self.shared.metrics.revocations_dropped.inc();
                        tracing::debug!("revocation superseded by a newer change");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cutting revoked connections failed; they keep working until they end or the next change");
                        self.shared.metrics.error(ErrorKind::Conntrack);
                        break;
                    }
                }
            }
        }
    }

    /// One dump, then its revoked entries deleted batch by batch.
    async fn round(
        &self,
        model: &Arc<Model>,
        local: &Arc<HashSet<IpAddr>>,
    ) -> anyhow::Result<Outcome> {
        let (netns, max) = (self.netns.clone(), self.limits.max_per_round);
        let (m, l) = (model.clone(), local.clone());
        let (sock, revoked, full) = tokio::task::spawn_blocking(move || {
            let mut sock = CtSocket::open_in(netns.as_deref())?;
            let mut revoked = Vec::new();
            let mut full = false;
            sock.dump(|e| {
                if is_revoked(&m, &l, &e.conn) {
                    if revoked.len() < max {
                        revoked.push(e);
                    } else {
                        full = true;
                    }
                }
            })?;
            anyhow::Ok((sock, revoked, full))
        })
        .await??;
        let mut sock = Some(sock);
        let pause = Duration::from_secs_f64(
            self.limits.batch as f64 / self.limits.per_second.max(1) as f64,
        );
        let batches: Vec<Vec<Entry>> = revoked
            .chunks(self.limits.batch.max(1))
            .map(<[Entry]>::to_vec)
            .collect();
        for (i, batch) in batches.into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
                if self.mailbox.slot.lock().expect("lock").is_some() {
                    return Ok(Outcome::Superseded);
                }
            }
            let mut s = sock.take().expect("socket");
            let (s, cut) = tokio::task::spawn_blocking(move || {
                let cut = s.delete(&batch);
                (s, cut.map(|n| (n, batch)))
            })
            .await?;
            sock = Some(s);
            let (n, batch) = cut?;
            self.shared.metrics.connections_cut.inc_by(n as u64);
            for e in &batch {
                let c = &e.conn;
                tracing::debug!(src = %c.src, dst = %c.dst, dport = c.dport, protocol = %c.protocol, "cut a connection the new policies deny");
            }
            tracing::info!(cut = n, "cut connections the new policies deny");
        }
        Ok(if full { Outcome::More } else { Outcome::Done })
    }
}
