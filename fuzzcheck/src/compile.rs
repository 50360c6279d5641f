//! Target `compile`: parsed objects through `Cluster::build` and `Model::compile`.

use netfence_model::objects::Direction;
use netfence_model::{Cluster, EndpointId, ManifestError, Model, PolicyId};
use std::collections::BTreeSet;

/// The policies that select `e` in direction `d`, by the definition of NetworkPolicy:
/// in the pod's own namespace, with a matching podSelector, of that policy type. A
/// hostNetwork pod is never selected (NetworkPolicy does not isolate the node's
/// network namespace).
fn selecting(cluster: &Cluster, e: EndpointId, d: Direction) -> BTreeSet<PolicyId> {
    let ep = cluster.endpoint(e);
    if ep.host_network {
        return BTreeSet::new();
    }
    cluster
        .policies
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            cluster.policy_namespace[i] == ep.namespace
                && p.pod_selector.matches(&ep.labels)
                && match d {
                    Direction::Ingress => p.affects_ingress,
                    Direction::Egress => p.affects_egress,
                }
        })
        .map(|(i, _)| PolicyId(i as u32))
        .collect()
}

/// Asserts that the compiled unions are exactly what the policies say: each endpoint
/// is in the union of the policies selecting it (none when none does), and a union's
/// members are the endpoints that point at it. A policy of one namespace in another
/// namespace's union is a cross-tenant leak.
pub fn assert_unions(model: &Model) {
    let n = model.cluster.endpoints.len();
    assert_eq!(model.ingress.len(), n, "ingress slots");
    assert_eq!(model.egress.len(), n, "egress slots");
    for e in &model.cluster.endpoints {
        for d in Direction::BOTH {
            let want = selecting(&model.cluster, e.id, d);
            match model.union_of(e.id, d) {
                None => assert!(want.is_empty(), "{} has no {d:?} union", e.name),
                Some(u) => {
                    let got: BTreeSet<PolicyId> = u.policies.iter().copied().collect();
                    assert_eq!(got, want, "{d:?} union of {}", e.name);
                    assert_eq!(u.direction, d, "union direction");
                    assert!(u.members.contains(&e.id), "{} not a member", e.name);
                }
            }
        }
    }
    for u in &model.unions {
        for &m in &u.members {
            let back = model.union_of(m, u.direction).map(|x| x.id);
            assert_eq!(back, Some(u.id), "member {m:?} of {:?}", u.id);
        }
    }
}

/// Parses and compiles `data`, asserting the parser's checks and [`assert_unions`].
/// Returns the model and the parse errors (for lint).
pub fn check(data: &[u8]) -> (Model, Vec<ManifestError>) {
    let parsed = crate::manifest::check(data);
    let model = Model::compile(Cluster::build(parsed.objects));
    assert_unions(&model);
    (model, parsed.errors)
}
