//! NF101 policy selects no pod, NF102 namespaceSelector matches no namespace, NF103 peer
//! matches no pod.

use super::peer_shape;
use crate::context::{rule_path, Context};
use crate::finding::Finding;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::Peer;
use netfence_model::{LabelSelector, PolicyId};

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A selector that only names namespaces by their immutable name label: the namespaces
/// may exist in the cluster without being in the input.
pub(crate) fn names_namespaces_only(sel: &LabelSelector) -> bool {
    !sel.is_empty()
        && sel.match_labels.keys().all(|k| k == NAME_LABEL)
        && sel.match_expressions.iter().all(|r| r.key == NAME_LABEL)
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.has_endpoints() {
        return;
    }
    let cluster = &ctx.model.cluster;
    for (pi, p) in cluster.policies.iter().enumerate() {
        if !ctx.selected[pi].is_empty() {
            continue;
        }
        let ns = cluster.policy_namespace[pi];
        let count = ctx.ns_endpoints[ns.index()];
        // Its selector may match pods that are all on the host network: policies never
        // isolate those (they are their node), so the policy does nothing either.
        let host_network = cluster
            .endpoints
            .iter()
            .filter(|e| e.namespace == ns && p.pod_selector.matches(&e.labels))
            .count();
        let message = if host_network > 0 {
            format!(
                "podSelector {} selects only hostNetwork pods ({host_network} in namespace {}), so it has no effect: NetworkPolicy never isolates a pod on the host network",
                p.pod_selector, p.meta.namespace
            )
        } else if count == 0 {
            format!(
                "selects no pod: namespace {} has no pod or workload in the input",
                p.meta.namespace
            )
        } else {
            format!(
                "selects no pod: podSelector {} matches none of the {count} pod(s) and workload(s) of namespace {}",
                p.pod_selector, p.meta.namespace
            )
        };
        out.push(ctx.finding_at(
            "NF101",
            PolicyId(pi as u32),
            PolicyField::PodSelector,
            message,
        ));
    }

    let declared_namespaces = cluster
        .namespaces
        .iter()
        .any(|n| &*n.source.file != "<implicit>");
    for r in ctx.rules() {
        let policy = cluster.policy(r.policy);
        for (i, peer) in r.rule.peers.iter().enumerate() {
            let Peer::Selectors { namespace, pod } = peer else {
                continue;
            };
            let path = rule_path(r.direction, r.index, Some(i));
            let scope: Vec<usize> = match namespace {
                None => vec![cluster.policy_namespace[r.policy.index()].index()],
                Some(sel) => cluster
                    .namespaces
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| sel.matches(&n.labels))
                    .map(|(i, _)| i)
                    .collect(),
            };
            if let Some(sel) = namespace {
                if scope.is_empty() {
                    if declared_namespaces && !names_namespaces_only(sel) {
                        out.push(ctx.finding_at(
                            "NF102",
                            r.policy,
                            PolicyField::PeerNamespaceSelector(r.direction, r.index, i),
                            format!(
                                "{path}: namespaceSelector {sel} matches none of the {} namespace(s) of the input",
                                cluster.namespaces.len()
                            ),
                        ));
                    }
                    continue;
                }
            }
            // Judge only when some namespace in scope has pods we know about.
            if scope.iter().all(|&n| ctx.ns_endpoints[n] == 0) {
                continue;
            }
            let admits = ctx.peer_endpoints(&r, i).is_some_and(|s| !s.is_empty());
            if admits || peer_shape::and_meant_or(ctx, &r, i).is_some() {
                continue;
            }
            let names: Vec<&str> = scope
                .iter()
                .take(5)
                .map(|&n| cluster.namespaces[n].name.as_str())
                .collect();
            let more = if scope.len() > 5 {
                format!(" (+{} more)", scope.len() - 5)
            } else {
                String::new()
            };
            let (what, field) = match pod {
                Some(sel) => (
                    format!("podSelector {sel}"),
                    PolicyField::PeerPodSelector(r.direction, r.index, i),
                ),
                None => (
                    "the peer".to_string(),
                    PolicyField::PeerNamespaceSelector(r.direction, r.index, i),
                ),
            };
            let hint = if namespace.is_none() {
                format!(
                    " (a podSelector without namespaceSelector only looks at namespace {})",
                    policy.meta.namespace
                )
            } else {
                String::new()
            };
            out.push(ctx.finding_at(
                "NF103",
                r.policy,
                field,
                format!(
                    "{path}: {what} matches no pod or workload in namespace(s) {}{more}{hint}",
                    names.join(", ")
                ),
            ));
        }
    }
}
