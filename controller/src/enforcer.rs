//! One node's enforcement: objects -> model -> ruleset -> kernel (through any
//! [`Backend`]), and what follows a change (revoked connections cut), plus the drift
//! check's reading and repair. When to do which is `decide`'s.

use crate::conntrack::Revoker;
use crate::decide::Reading;
use crate::error::Error;
use crate::metrics::{PolicyLabel, TierRuleLabel};
use crate::state::Shared;
use crate::store::PodEvent;
use netfence_model::{Cluster, Model, Object};
use netfence_nft::backend::{self, Applied, Backend, Summary};
use netfence_nft::render::is_local;
use netfence_nft::{render_cached, NodeView, RenderOptions, Ruleset, SetCache};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct Enforcer<B> {
    pub node: NodeView,
    pub opts: RenderOptions,
    /// The kernel: `Nft` in the controller, a fake in tests.
    pub backend: B,
    /// Cuts revoked connections on its own task: never awaited here (None: connections
    /// a change denies are kept).
    pub revoker: Option<Revoker>,
    /// What the kernel holds (None: unknown, e.g. after a start: replace it whole).
    applied: Option<Ruleset>,
    /// Peer sets of the last render, kept while pod events patch the model.
    sets: SetCache,
}

/// What a reconcile starts from.
pub enum Input {
    /// Every object: compile a new model.
    Objects(Vec<Object>),
    /// Pod events since the last reconcile: patch the model (`Model::upsert_pod`).
    Pods(Vec<PodEvent>),
    /// Only tiered policies changed: every one of them, to replace the model's
    /// (`Model::replace_tier_policies`); the rest of the model and the cached sets stay.
    Tiers(Vec<netfence_model::tier::TierPolicy>),
}

impl<B: Backend> Enforcer<B> {
    pub fn new(
        node: NodeView,
        opts: RenderOptions,
        backend: B,
        revoker: Option<Revoker>,
    ) -> Enforcer<B> {
        Enforcer {
            node,
            opts,
            backend,
            revoker,
            applied: None,
            sets: SetCache::default(),
        }
    }

    /// What the kernel was last brought to (None: nothing yet).
    pub fn applied(&self) -> Option<&Ruleset> {
        self.applied.as_ref()
    }

    /// Brings the model up to date (patched for pod events, recompiled otherwise),
    /// renders and applies; returns how the kernel was changed. `objects` gives every
    /// object when a pod event cannot be patched.
    pub fn reconcile(
        &mut self,
        shared: &Shared,
        input: Input,
        generation: u64,
        objects: impl FnOnce() -> Vec<Object>,
    ) -> Result<Applied, Error> {
        let started = Instant::now();
        let model = self.update_model(shared, input, objects);
        let modelled = started.elapsed();
        let rs = render_cached(&model, &self.node, &self.opts, &mut self.sets)?;
        let rendered = started.elapsed();
        let applied = backend::bring(&self.backend, self.applied.as_ref(), &rs)?;
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
        let mut slot = shared.enforced.model.write().expect("lock");
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
            (Input::Tiers(policies), Some(model)) => {
                Arc::make_mut(model).replace_tier_policies(policies);
                // The cached sets are of pods, peers and named ports, which did not
                // change; the tiered ones are built again.
                self.sets.forget_tiers();
                shared.metrics.model_update("tiers");
                true
            }
            (Input::Tiers(_), None) => false,
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
        let Some(model) = shared.enforced.model() else {
            return;
        };
        if let Some(revoker) = &self.revoker {
            if applied != Applied::Nothing {
                revoker.submit(model, &self.node);
            }
        }
        crate::memory::trim();
    }

    /// Judges a reading of the kernel (by [`read_kernel`], off the reconcile path)
    /// against what was applied, and refreshes the per-policy drop counters from it.
    /// Whether it was taken across a write is the caller's to know.
    pub fn judge(&self, shared: &Shared, kernel: &KernelView) -> Reading {
        let Some(applied) = &self.applied else {
            return Reading::Matches;
        };
        publish_drop_counters(shared, &kernel.drops, applied);
        if kernel.summary.as_ref() == Some(&Summary::of_ruleset(applied)) {
            Reading::Matches
        } else {
            Reading::Differs
        }
    }

    /// Replaces the table with what was last applied (the kernel drifted from it).
    pub fn repair(&mut self, shared: &Shared) -> Result<(), Error> {
        let Some(applied) = &self.applied else {
            return Ok(());
        };
        tracing::warn!(
            "the kernel table is not what was applied (flushed or edited?); replacing it"
        );
        self.backend
            .replace(applied)
            .map_err(|e| Error::DriftCheck(format!("replacing the table: {e}")))?;
        shared.metrics.drift_repairs.inc();
        Ok(())
    }
}

/// The kernel's table as the drift check sees it.
pub struct KernelView {
    /// The kernel writes so far when the reading started (`Action::ReadKernel`).
    pub writes: u64,
    /// None: the table is gone.
    pub summary: Option<Summary>,
    /// Packets dropped per chain (chain name, packets of its drop rules).
    pub drops: Vec<(String, u64)>,
}

/// Lists and summarises the table. Slow at scale (a listing of every element), so the
/// controller runs it on a thread of its own while reconciles go on.
pub fn read_kernel(backend: &impl Backend, writes: u64) -> Result<KernelView, Error> {
    let reading = backend
        .read_table()
        .map_err(|e| Error::DriftCheck(format!("reading the table: {e}")))?;
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
        if let Some(rule) = applied.tier_drops.get(chain) {
            // A tiered Deny rule's drop chain: its policy, and the rule itself.
            *per_policy
                .entry((rule.policy.clone(), rule.direction.to_string()))
                .or_default() += packets;
            shared
                .metrics
                .tier_rule_drops
                .get_or_create(&TierRuleLabel {
                    policy: rule.policy.clone(),
                    tier: rule.tier.to_string(),
                    rule: rule.rule.clone(),
                    direction: rule.direction.to_string(),
                })
                .set(*packets as i64);
            continue;
        }
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
    shared.enforced.set_drop_counters(published);
}
