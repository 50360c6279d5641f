//! Coverage: which workloads are isolated for ingress and egress, by namespace; and the
//! off-by-default checks NF701-NF703 built on it.

use crate::context::Context;
use crate::finding::{Finding, Subject};
use netfence_model::cluster::EndpointKind;
use netfence_model::objects::Direction;
use netfence_model::tier::Tier;
use netfence_model::{EndpointId, Model};
use std::collections::{BTreeMap, BTreeSet};

/// How many of a workload's pods a direction isolates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Isolation {
    /// Every pod is selected by some policy for this direction.
    Isolated,
    /// Some pods are, some are not: (isolated, pods).
    Partial(usize, usize),
    /// No pod is.
    Open,
    /// hostNetwork pods: NetworkPolicy never applies.
    HostNetwork,
}

impl Isolation {
    pub fn label(self) -> String {
        match self {
            Isolation::Isolated => "isolated".into(),
            Isolation::Partial(k, n) => format!("partial ({k}/{n})"),
            Isolation::Open => "open".into(),
            Isolation::HostNetwork => "host network".into(),
        }
    }
}

/// One workload (or standalone pod) of a namespace.
#[derive(Clone, Debug)]
pub struct WorkloadCoverage {
    /// `ns/kind/name` for workloads, `ns/name` for standalone pods.
    pub name: String,
    pub subject: Subject,
    pub pods: usize,
    /// Its pods (and templates), for questions asked per workload (exposure).
    pub members: Vec<EndpointId>,
    pub ingress: Isolation,
    pub egress: Isolation,
    /// Policies selecting any of its pods, `ns/name`.
    pub policies: Vec<String>,
    /// Tiered policies (ClusterNetworkPolicy, AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy) whose subject selects any of its pods: the
    /// guardrails namespace owners cannot override (Admin) or that apply where their
    /// policies do not isolate (Baseline). `cnp/name (Admin)`.
    pub guardrails: Vec<String>,
}

impl WorkloadCoverage {
    /// Neither direction isolated for any pod.
    pub fn wide_open(&self) -> bool {
        self.ingress == Isolation::Open && self.egress == Isolation::Open
    }
}

#[derive(Clone, Debug)]
pub struct NamespaceCoverage {
    pub name: String,
    pub policies: usize,
    /// Tiered policies selecting any pod of the namespace, as in [`WorkloadCoverage`].
    pub guardrails: Vec<String>,
    pub workloads: Vec<WorkloadCoverage>,
}

fn isolation(model: &Model, members: &[EndpointId], d: Direction) -> Isolation {
    let cluster = &model.cluster;
    if members
        .iter()
        .all(|e| !cluster.endpoint(*e).on_pod_network())
    {
        return Isolation::HostNetwork;
    }
    let pods: Vec<&EndpointId> = members
        .iter()
        .filter(|e| cluster.endpoint(**e).on_pod_network())
        .collect();
    let k = pods
        .iter()
        .filter(|e| model.subject_isolation(***e, d).union().is_some())
        .count();
    match k {
        0 => Isolation::Open,
        k if k == pods.len() => Isolation::Isolated,
        k => Isolation::Partial(k, pods.len()),
    }
}

/// Coverage of every namespace that has pods or workloads, sorted by name.
pub fn coverage(model: &Model) -> Vec<NamespaceCoverage> {
    let cluster = &model.cluster;
    let mut groups: BTreeMap<(usize, String), (Subject, Vec<EndpointId>)> = BTreeMap::new();
    for e in &cluster.endpoints {
        let (name, subject) = match (e.workload, e.kind) {
            (Some(w), _) => (cluster.workload_key(w), Subject::Workload(w)),
            (None, EndpointKind::Pod | EndpointKind::Workload(_) | EndpointKind::StandIn) => {
                (cluster.endpoint_name(e.id), Subject::Endpoint(e.id))
            }
        };
        groups
            .entry((e.namespace.index(), name))
            .or_insert_with(|| (subject, Vec::new()))
            .1
            .push(e.id);
    }
    let mut per_ns: BTreeMap<usize, Vec<WorkloadCoverage>> = BTreeMap::new();
    for ((ns, name), (subject, members)) in groups {
        let mut policies = BTreeSet::new();
        let mut guardrails = BTreeSet::new();
        for e in &members {
            for d in Direction::BOTH {
                if let Some(u) = model.union_of(*e, d) {
                    policies.extend(u.policies.iter().map(|p| cluster.policy(*p).key()));
                }
                for tier in [Tier::Admin, Tier::Baseline] {
                    if let Some(stack) = model.tiers.stack_of(*e, tier, d) {
                        guardrails.extend(stack.policies.iter().map(|p| {
                            format!("{} ({tier})", cluster.tier_policies[p.index()].key())
                        }));
                    }
                }
            }
        }
        per_ns.entry(ns).or_default().push(WorkloadCoverage {
            name,
            subject,
            pods: members.len(),
            ingress: isolation(model, &members, Direction::Ingress),
            egress: isolation(model, &members, Direction::Egress),
            members,
            policies: policies.into_iter().collect(),
            guardrails: guardrails.into_iter().collect(),
        });
    }
    let mut policy_count = vec![0; cluster.namespaces.len()];
    for ns in &cluster.policy_namespace {
        policy_count[ns.index()] += 1;
    }
    per_ns
        .into_iter()
        .map(|(ns, workloads)| NamespaceCoverage {
            name: cluster.namespaces[ns].name.clone(),
            policies: policy_count[ns],
            guardrails: workloads
                .iter()
                .flat_map(|w| w.guardrails.iter().cloned())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            workloads,
        })
        .collect()
}

pub(crate) fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cluster = &ctx.model.cluster;
    for ns in coverage(ctx.model) {
        if ns.policies == 0 {
            let id = cluster
                .namespace_id(&ns.name)
                .expect("namespace of an endpoint");
            let mut f = ctx.finding(
                "NF701",
                Subject::Namespace(id),
                format!(
                    "namespace {} has {} workload(s) and pod(s) and no NetworkPolicy: all of them are open for ingress and egress",
                    ns.name,
                    ns.workloads.len()
                ),
            );
            // A namespace only named by its objects has no line: point at its first one.
            if f.source.line == 0 {
                if let Some(w) = ns.workloads.first() {
                    f.source = ctx.describe(w.subject).2;
                }
            }
            out.push(f);
            continue;
        }
        for w in &ns.workloads {
            for (d, iso, id) in [
                (Direction::Ingress, w.ingress, "NF702"),
                (Direction::Egress, w.egress, "NF703"),
            ] {
                let what = match iso {
                    Isolation::Open => "is not isolated".to_string(),
                    Isolation::Partial(k, n) => {
                        format!("is isolated on only {k} of its {n} pods")
                    }
                    Isolation::Isolated | Isolation::HostNetwork => continue,
                };
                out.push(ctx.finding(
                    id,
                    w.subject,
                    format!("{} {what} for {d}: no policy selects it for {d}", w.name),
                ));
            }
        }
    }
}
