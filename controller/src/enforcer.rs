//! One node's enforcement: objects -> model -> ruleset -> kernel, and what follows a
//! change (revoked connections cut), plus the periodic drift check.

use crate::conntrack::Revoker;
use crate::metrics::PolicyLabel;
use crate::state::Shared;
use crate::store::PodEvent;
use netfence_model::{Cluster, Model, Object};
use netfence_nft::backend::{self, Applied, Summary};
use netfence_nft::render::is_local;
use netfence_nft::{render_cached, Backend, Kernel, NodeView, RenderOptions, Ruleset, SetCache};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct Enforcer {
    pub node: NodeView,
    pub opts: RenderOptions,
    pub nft: Kernel,
    /// Cuts revoked connections on its own task: never awaited here.
    pub revoker: Revoker,
    pub cut_established: bool,
    /// What the kernel holds (None: unknown, e.g. after a start: replace it whole).
    pub applied: Option<Ruleset>,
    pub applied_generation: Option<u64>,
    /// Peer sets of the last render, kept while pod events patch the model.
    pub sets: SetCache,
    /// Kernel writes so far (applies and repairs): a drift reading taken across a
    /// write is discarded.
    pub writes: u64,
}

/// What a reconcile starts from.
pub enum Input {
    /// Every object: compile a new model.
    Objects(Vec<Object>),
    /// Pod events since the last reconcile: patch the model (`Model::upsert_pod`).
    Pods(Vec<PodEvent>),
}

impl Enforcer {
    /// Brings the model up to date (patched for pod events, recompiled otherwise),
    /// renders and applies; returns how the kernel was changed. `objects` gives every
    /// object when a pod event cannot be patched.
    pub fn reconcile(
        &mut self,
        shared: &Shared,
        input: Input,
        generation: u64,
        objects: impl FnOnce() -> Vec<Object>,
    ) -> anyhow::Result<Applied> {
        let started = Instant::now();
        let model = self.update_model(shared, input, objects);
        let modelled = started.elapsed();
        let rs = render_cached(&model, &self.node, &self.opts, &mut self.sets)?;
        let rendered = started.elapsed();
        let applied = backend::bring(&self.nft, self.applied.as_ref(), &rs)?;
        if applied != Applied::Nothing {
            self.writes += 1;
        }
        tracing::debug!(
            model_ms = modelled.as_secs_f64() * 1e3,
            render_ms = (rendered - modelled).as_secs_f64() * 1e3,
            apply_ms = (started.elapsed() - rendered).as_secs_f64() * 1e3,
            applied = applied.as_str(),
            generation,
            "reconciled"
        );
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
        Ok(applied)
    }

    /// The model after `input`, also left in `shared` for drop reports. Patching works
    /// on the shared model in place (it is cloned only if a drop report holds it).
    fn update_model(
        &mut self,
        shared: &Shared,
        input: Input,
        objects: impl FnOnce() -> Vec<Object>,
    ) -> Arc<Model> {
        let mut slot = shared.model.write().expect("lock");
        let patched = match (input, slot.as_mut()) {
            (Input::Pods(events), Some(model)) => {
                let model = Arc::make_mut(model);
                let mut all = Ok(());
                for event in events {
                    let change = match event {
                        PodEvent::Upsert(pod) => model.upsert_pod(pod),
                        PodEvent::Delete { namespace, name } => model.remove_pod(&namespace, &name),
                    };
                    match change {
                        Ok(change) => self.sets.apply(&change),
                        Err(e) => {
                            all = Err(e);
                            break;
                        }
                    }
                }
                match all {
                    Ok(()) => {
                        shared.metrics.model_update("patch");
                        true
                    }
                    Err(e) => {
                        tracing::debug!(reason = %e, "recompiling instead of patching");
                        false
                    }
                }
            }
            (Input::Pods(_), None) => false,
            (Input::Objects(all), _) => {
                *slot = Some(Arc::new(self.compile(shared, all)));
                true
            }
        };
        if !patched {
            *slot = Some(Arc::new(self.compile(shared, objects())));
        }
        slot.clone().expect("a model")
    }

    fn compile(&mut self, shared: &Shared, objects: Vec<Object>) -> Model {
        shared.metrics.model_update("compile");
        self.sets.clear();
        Model::compile(Cluster::build(objects))
    }

    /// After an apply: hand the new model to the revoker (which cuts the connections it
    /// denies on its own task; never awaited), give memory back.
    pub fn after_apply(&self, shared: &Shared, applied: Applied) {
        let Some(model) = shared.model.read().expect("lock").clone() else {
            return;
        };
        if self.cut_established && applied != Applied::Nothing {
            self.revoker.submit(model, &self.node);
        }
        crate::memory::trim();
    }

    /// Compares what the kernel holds (read by [`read_kernel`], off the reconcile path)
    /// with what was applied and replaces the table if they differ; refreshes the
    /// per-policy drop counters. Returns whether a repair was needed.
    pub fn check_drift(&mut self, shared: &Shared, kernel: KernelView) -> anyhow::Result<bool> {
        let Some(applied) = &self.applied else {
            return Ok(false);
        };
        publish_drop_counters(shared, &kernel.drops, applied);
        if kernel.writes != self.writes {
            // The kernel changed while it was being read: the reading proves nothing.
            tracing::debug!("the table changed during the drift check; checking next time");
            return Ok(false);
        }
        let drifted = kernel.summary.as_ref() != Some(&Summary::of_ruleset(applied));
        if drifted {
            tracing::warn!(
                "the kernel table is not what was applied (flushed or edited?); replacing it"
            );
            self.nft.replace(applied)?;
            self.writes += 1;
            shared.metrics.drift_repairs.inc();
        }
        Ok(drifted)
    }
}

/// The kernel's table as the drift check sees it.
pub struct KernelView {
    /// `Enforcer::writes` when the reading started.
    pub writes: u64,
    /// None: the table is gone.
    pub summary: Option<Summary>,
    /// Packets dropped per chain (chain name, packets of its drop rules).
    pub drops: Vec<(String, u64)>,
}

/// Lists and summarises the table. Slow at scale (a listing of every element), so the
/// controller runs it on a thread of its own while reconciles go on.
pub fn read_kernel(nft: &Kernel, writes: u64) -> anyhow::Result<KernelView> {
    let reading = nft.read_table()?;
    Ok(KernelView {
        writes,
        summary: reading.as_ref().map(Summary::of_reading),
        drops: reading
            .as_ref()
            .map(backend::drop_counters)
            .unwrap_or_default(),
    })
}

/// Publishes the packets each union chain's drop counted under every policy the
/// chain's isolation names (chains of another ruleset, such as a base chain's drops,
/// name none).
fn publish_drop_counters(shared: &Shared, drops: &[(String, u64)], applied: &Ruleset) {
    let mut per_policy: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (chain, packets) in drops {
        let Some(isolation) = applied.isolation.get(chain) else {
            continue;
        };
        for p in &isolation.policies {
            *per_policy
                .entry((p.clone(), isolation.direction.to_string()))
                .or_default() += packets;
        }
    }
    let mut published = Vec::with_capacity(per_policy.len());
    for ((policy, direction), packets) in per_policy {
        shared
            .metrics
            .drops
            .get_or_create(&PolicyLabel {
                policy: policy.clone(),
                direction: direction.clone(),
            })
            .set(packets as i64);
        published.push(netfence_analyzer::drops::PolicyDrops {
            policy,
            direction,
            packets,
        });
    }
    *shared.drop_counters.lock().expect("lock") = published;
}
