//! NF203 and NF204: the indentation trap between "one peer with two selectors" (AND) and
//! "two peers with one selector each" (OR).

use crate::context::{rule_path, Context, RuleRef};
use crate::finding::Finding;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::Peer;
use netfence_model::{EndpointSet, LabelSelector};

/// Pods (not hostNetwork) matching `pod` inside namespaces matching `ns`.
fn and_set(ctx: &Context<'_>, ns: &LabelSelector, pod: &LabelSelector) -> EndpointSet {
    let cluster = &ctx.model.cluster;
    let mut s = EndpointSet::empty(cluster.endpoints.len());
    let ns_ok: Vec<bool> = cluster
        .namespaces
        .iter()
        .map(|n| ns.matches(&n.labels))
        .collect();
    for e in &cluster.endpoints {
        if e.on_pod_network() && ns_ok[e.namespace.index()] && pod.matches(&e.labels) {
            s.insert(e.id.index());
        }
    }
    s
}

/// Pods matching `pod` in the policy's own namespace, and pods of the namespaces
/// matching `ns`: the two selectors as separate peers.
fn or_parts(
    ctx: &Context<'_>,
    r: &RuleRef<'_>,
    ns: &LabelSelector,
    pod: &LabelSelector,
) -> (EndpointSet, EndpointSet) {
    let cluster = &ctx.model.cluster;
    let own = cluster.policy_namespace[r.policy.index()];
    let n = cluster.endpoints.len();
    let (mut in_ns, mut own_pods) = (EndpointSet::empty(n), EndpointSet::empty(n));
    let ns_ok: Vec<bool> = cluster
        .namespaces
        .iter()
        .map(|x| ns.matches(&x.labels))
        .collect();
    for e in cluster.endpoints.iter().filter(|e| e.on_pod_network()) {
        if ns_ok[e.namespace.index()] {
            in_ns.insert(e.id.index());
        }
        if e.namespace == own && pod.matches(&e.labels) {
            own_pods.insert(e.id.index());
        }
    }
    (in_ns, own_pods)
}

/// NF204's condition for peer `i` of the rule: both selectors in one peer match no pod,
/// while each alone would. Returns the message.
pub fn and_meant_or(ctx: &Context<'_>, r: &RuleRef<'_>, i: usize) -> Option<String> {
    let Peer::Selectors {
        namespace: Some(ns),
        pod: Some(pod),
    } = &r.rule.peers[i]
    else {
        return None;
    };
    if !ctx.has_endpoints() || ctx.peer_endpoints(r, i).is_some_and(|s| !s.is_empty()) {
        return None;
    }
    let (in_ns, own_pods) = or_parts(ctx, r, ns, pod);
    if in_ns.is_empty() || own_pods.is_empty() {
        return None;
    }
    let policy = ctx.model.cluster.policy(r.policy);
    Some(format!(
        "{}: namespaceSelector {ns} AND podSelector {pod} in one peer match no pod; as two peers ('-' before podSelector) they would admit the {} pod(s) of the namespaces matching {ns} ({}) OR the {} pod(s) matching {pod} in namespace {} ({})",
        rule_path(r.direction, r.index, Some(i)),
        in_ns.count(),
        ctx.sample(&in_ns, 3),
        own_pods.count(),
        policy.meta.namespace,
        ctx.sample(&own_pods, 3),
    ))
}

/// `N pod(s): a, b, c`, or `no pod`.
fn pods_shown(ctx: &Context<'_>, set: &EndpointSet) -> String {
    match set.count() {
        0 => "no pod".into(),
        n => format!("{n} pod(s): {}", ctx.sample(set, 3)),
    }
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cluster = &ctx.model.cluster;
    for r in ctx.rules() {
        let peers = &r.rule.peers;
        for i in 0..peers.len() {
            if let Some(msg) = and_meant_or(ctx, &r, i) {
                let field = PolicyField::Peer(r.direction, r.index, i);
                out.push(ctx.finding_at("NF204", r.policy, field, msg));
            }
            if i + 1 >= peers.len() {
                continue;
            }
            let (ns, pod) = match (&peers[i], &peers[i + 1]) {
                (
                    Peer::Selectors {
                        namespace: Some(ns),
                        pod: None,
                    },
                    Peer::Selectors {
                        namespace: None,
                        pod: Some(pod),
                    },
                )
                | (
                    Peer::Selectors {
                        namespace: None,
                        pod: Some(pod),
                    },
                    Peer::Selectors {
                        namespace: Some(ns),
                        pod: None,
                    },
                ) => (ns, pod),
                _ => continue,
            };
            let own_ns = &cluster.policy(r.policy).meta.namespace;
            let field = match r.direction {
                netfence_model::objects::Direction::Ingress => "from",
                netfence_model::objects::Direction::Egress => "to",
            };
            let head = format!(
                "{}[{}].{field}[{i}] and [{}] are two peers (OR): every pod of the namespaces matching {ns}, plus the pods matching {pod} in namespace {own_ns}",
                r.direction,
                r.index,
                i + 1
            );
            let one = format!(
                "as one peer (no '-' before the second selector) they would admit only the pods matching {pod} in the namespaces matching {ns}"
            );
            // The shape is the finding: the input's pods may happen to make both readings
            // admit the same pods today, and the next pod deployed would not.
            let message = if ctx.has_endpoints() {
                let (mut written, own_pods) = or_parts(ctx, &r, ns, pod);
                written.union_with(&own_pods);
                let merged = and_set(ctx, ns, pod);
                let same = if written == merged {
                    format!("; on this input both readings admit the same pods, but they differ as soon as a pod not matching {pod} runs in those namespaces, or one matching {pod} runs in namespace {own_ns}")
                } else {
                    String::new()
                };
                format!(
                    "{head} ({}); {one} ({}){same}",
                    pods_shown(ctx, &written),
                    pods_shown(ctx, &merged),
                )
            } else {
                format!("{head}; {one}")
            };
            // At the second peer: its '-' is the one to remove.
            let field = PolicyField::Peer(r.direction, r.index, i + 1);
            out.push(ctx.finding_at("NF203", r.policy, field, message));
        }
    }
}
