//! One node's enforcement: objects -> model -> ruleset -> kernel, and what follows a
//! change (revoked connections cut), plus the periodic drift check.

use crate::conntrack::{self, Conntrack};
use crate::kernel::{self, Applied};
use crate::metrics::PolicyLabel;
use crate::state::Shared;
use netfence_model::{Cluster, Model, Object};
use netfence_nft::render::is_local;
use netfence_nft::{render_ruleset, Nft, NodeView, RenderOptions, Ruleset};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct Enforcer {
    pub node: NodeView,
    pub opts: RenderOptions,
    pub nft: Nft,
    pub conntrack: Conntrack,
    pub cut_established: bool,
    /// What the kernel holds (None: unknown, e.g. after a start: replace it whole).
    pub applied: Option<Ruleset>,
    pub applied_generation: Option<u64>,
}

impl Enforcer {
    /// Builds, renders and applies; returns how the kernel was changed.
    pub fn reconcile(
        &mut self,
        shared: &Shared,
        objects: Vec<Object>,
        generation: u64,
    ) -> anyhow::Result<Applied> {
        let started = Instant::now();
        shared.metrics.objects.set(objects.len() as i64);
        let model = Arc::new(Model::compile(Cluster::build(objects)));
        let rs = render_ruleset(&model, &self.node, &self.opts);
        let applied = kernel::apply(&self.nft, self.applied.as_ref(), &rs)?;
        let m = &shared.metrics;
        m.reconcile_seconds.observe(started.elapsed().as_secs_f64());
        if applied != Applied::Nothing {
            m.applies
                .get_or_create(&crate::metrics::KindLabel {
                    kind: applied.as_str().into(),
                })
                .inc();
        }
        let stats = rs.stats();
        m.chains.set(stats.chains as i64);
        m.rules.set(stats.rules as i64);
        m.sets.set(stats.sets as i64);
        m.elements.set(stats.elements as i64);
        let local: HashSet<IpAddr> = model
            .cluster
            .endpoints
            .iter()
            .filter(|e| is_local(e, &self.node))
            .flat_map(|e| e.addrs.iter().copied())
            .collect();
        m.pods_enforced.set(
            model
                .cluster
                .endpoints
                .iter()
                .filter(|e| is_local(e, &self.node))
                .count() as i64,
        );
        self.applied = Some(rs);
        self.applied_generation = Some(generation);
        *shared.model.write().expect("lock") = Some(model.clone());
        if self.cut_established && applied != Applied::Nothing {
            self.cut_revoked(shared, &model, &local);
        }
        crate::memory::trim();
        Ok(applied)
    }

    fn cut_revoked(&self, shared: &Shared, model: &Model, local: &HashSet<IpAddr>) {
        let conns = match self.conntrack.list() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list tracked connections; revoked flows keep working until they end");
                shared.metrics.error("conntrack");
                return;
            }
        };
        for c in conntrack::revoked(model, local, &conns) {
            match self.conntrack.delete(&c) {
                Ok(()) => {
                    shared.metrics.connections_cut.inc();
                    tracing::info!(src = %c.src, dst = %c.dst, dport = c.dport, protocol = %c.protocol, "cut a connection the new policies deny");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "deleting a tracked connection");
                    shared.metrics.error("conntrack");
                }
            }
        }
    }

    /// Reads the table back: replaces it if it is not what was applied, and refreshes
    /// the per-policy drop counters. Returns whether a repair was needed.
    pub fn check_drift(&mut self, shared: &Shared) -> anyhow::Result<bool> {
        let Some(applied) = &self.applied else {
            return Ok(false);
        };
        let listing = self.nft.list_table()?;
        let drifted = match &listing {
            None => true,
            Some(l) => kernel::summarize_listing(l) != kernel::summarize_ruleset(applied),
        };
        if let Some(l) = &listing {
            let mut per_policy: BTreeMap<(String, String), u64> = BTreeMap::new();
            for (comment, packets) in kernel::drop_counters(l) {
                // "ingress isolated by ns/a,ns/b"
                let Some((direction, policies)) = comment.split_once(" isolated by ") else {
                    continue;
                };
                for p in policies.split(',') {
                    *per_policy
                        .entry((p.to_string(), direction.to_string()))
                        .or_default() += packets;
                }
            }
            let mut flat = shared.drop_counters.lock().expect("lock");
            flat.clear();
            for ((policy, direction), n) in per_policy {
                shared
                    .metrics
                    .drops
                    .get_or_create(&PolicyLabel {
                        policy: policy.clone(),
                        direction: direction.clone(),
                    })
                    .set(n as i64);
                *flat.entry(format!("{policy} {direction}")).or_default() += n;
            }
        }
        if drifted {
            tracing::warn!(
                "the kernel table is not what was applied (flushed or edited?); replacing it"
            );
            self.nft.replace(applied)?;
            shared.metrics.drift_repairs.inc();
        }
        Ok(drifted)
    }
}
