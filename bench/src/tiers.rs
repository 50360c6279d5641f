//! The tiers' share of the benchmark: how big the compiled tiers are, what compiling
//! them costs inside `Model::compile`, and the recompile after one ClusterNetworkPolicy
//! changes (the controller recompiles the whole model on such a change).

use crate::timed;
use netfence_model::tier::{Tier, TierAction};
use netfence_model::tiers::Tiers;
use netfence_model::{Cluster, Model, Object};
use std::hint::black_box;
use std::time::Duration;

pub struct TierRow {
    pub policies: usize,
    pub stacks: usize,
    /// Elements over every stack (a policy's (rule, peer) counts once per stack).
    pub elements: usize,
    /// `Tiers::compile` alone, on the built cluster.
    pub compile: Duration,
    /// Objects with one Admin policy changed -> `Cluster::build` -> `Model::compile`.
    pub recompile: Duration,
    /// What changed, for the report.
    pub change: String,
}

/// The objects with one Admin-tier policy changed: its first rule's action turned
/// (Accept to Deny, Deny to Pass, Pass to Accept) and its priority moved by one, so both
/// the order and the verdicts change. None when there is no such policy.
fn change_one(objects: &[Object]) -> Option<(Vec<Object>, String)> {
    let mut out = objects.to_vec();
    let p = out.iter_mut().find_map(|o| match o {
        Object::TierPolicy(p) if p.tier == Tier::Admin && !p.ingress.is_empty() => Some(p),
        _ => None,
    })?;
    let action = match p.ingress[0].action {
        TierAction::Accept => TierAction::Deny,
        TierAction::Deny => TierAction::Pass,
        TierAction::Pass => TierAction::Accept,
    };
    p.ingress[0].action = action;
    p.priority = (p.priority + 1).min(1000);
    let change = format!(
        "{}: priority {}, ingress[0] now {action}",
        p.key(),
        p.priority
    );
    Some((out, change))
}

pub fn measure(runs: usize, objects: &[Object], model: &Model) -> TierRow {
    eprintln!("   tiers: compile, recompile after one change");
    let tiers = &model.tiers;
    let (compile, _) = timed(runs, || Tiers::compile(&model.cluster));
    let (recompile, change) = match change_one(objects) {
        Some((changed, change)) => {
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                // The clone stands for the controller's store read and is not timed.
                let objs = changed.clone();
                let t = std::time::Instant::now();
                black_box(Model::compile(Cluster::build(objs)));
                times.push(t.elapsed());
            }
            (crate::median(times), change)
        }
        None => (Duration::ZERO, "no Admin policy with ingress rules".into()),
    };
    TierRow {
        policies: model.cluster.tier_policies.len(),
        stacks: tiers.stacks.len(),
        elements: tiers.stacks.iter().map(|s| s.elements.len()).sum(),
        compile,
        recompile,
        change,
    }
}
