//! The tiered policies (ClusterNetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy). What a policy's fields select, here: NF806 a subject
//! selecting no pod, NF807 a peer selecting nothing, NF808 `networks` covering pod
//! addresses, NF809 a named port no destination defines, NF810 unenforced `domainNames`.
//! How the rules decide, in [`order`] (NF801 equal priorities that overlap, NF802
//! shadowed rules, NF804 a Pass that changes nothing) and [`stages`] (NF803 a Baseline
//! Deny NetworkPolicy always overrides, NF805 an Admin Accept opening what NetworkPolicy
//! denies), both over the connections [`walk`] enumerates.

mod order;
mod stages;
mod walk;

use super::selection::names_namespaces_only;
use crate::context::{rule_path, Context};
use crate::finding::{Finding, Subject};
use netfence_model::addr::Family;
use netfence_model::objects::Direction;
use netfence_model::ports::PortSet;
use netfence_model::tier::{TierKind, TierPeer, TierPolicy, TierPort, TierRule, TierSubject};
use netfence_model::tiers::{peer_match, subject_set, TierPeerMatch, TierPolicyId};
use netfence_model::{Cluster, EndpointSet, LabelSelector, Party};

/// Every id of the family (the walk runs only for the ones that need it).
pub const IDS: &[&str] = &[
    "NF801", "NF802", "NF803", "NF804", "NF805", "NF806", "NF807", "NF808", "NF809", "NF810",
];

/// One rule of a tiered policy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) struct RuleKey {
    pub policy: TierPolicyId,
    pub direction: Direction,
    pub rule: usize,
}

fn policy(cluster: &Cluster, p: TierPolicyId) -> &TierPolicy {
    &cluster.tier_policies[p.index()]
}

/// `anp/deny-db (Admin tier, priority 10)`; a BaselineAdminNetworkPolicy has no priority.
pub(crate) fn policy_desc(p: &TierPolicy) -> String {
    match p.kind {
        TierKind::BaselineAdminNetworkPolicy => format!("{} ({} tier)", p.key(), p.tier),
        _ => format!("{} ({} tier, priority {})", p.key(), p.tier, p.priority),
    }
}

/// `Deny rule 'block-db' (ingress[0])`, or `Deny rule ingress[0]` when it has no name.
pub(crate) fn rule_desc(p: &TierPolicy, d: Direction, rule: usize) -> String {
    let r: &TierRule = &p.rules(d)[rule];
    let path = rule_path(d, rule, None);
    if r.name.is_empty() {
        format!("{} rule {path}", r.action)
    } else {
        format!("{} rule '{}' ({path})", r.action, r.name)
    }
}

/// `Deny rule 'block-db' (ingress[0]) of anp/deny-db (Admin tier, priority 10)`.
pub(crate) fn rule_of(cluster: &Cluster, k: RuleKey) -> String {
    let p = policy(cluster, k.policy);
    format!(
        "{} of {}",
        rule_desc(p, k.direction, k.rule),
        policy_desc(p)
    )
}

/// A few ranges of a port set, for messages: `80/TCP`, `1-79/TCP, 81-65535/TCP and more`.
pub(crate) fn ports_sample(ports: &PortSet) -> String {
    if ports.is_all() {
        return "every port".into();
    }
    let ranges = ports.ranges();
    let shown: Vec<String> = ranges.iter().take(2).map(ToString::to_string).collect();
    if ranges.len() > 2 {
        format!("{} and more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// `from shop/web to shop/db` (ingress is seen from the destination).
pub(crate) fn connection(cluster: &Cluster, d: Direction, subject: Party, other: Party) -> String {
    let (s, o) = (subject.name(cluster), other.name(cluster));
    match d {
        Direction::Ingress => format!("from {o} to {s}"),
        Direction::Egress => format!("from {s} to {o}"),
    }
}

/// Does a resolved tiered peer match endpoint `e` over some family it may speak?
pub(crate) fn admits_endpoint(cluster: &Cluster, peer: &TierPeerMatch, e: usize) -> bool {
    let ep = &cluster.endpoints[e];
    Family::ALL
        .into_iter()
        .any(|f| ep.speaks(f) && peer.admits(cluster, Party::Endpoint(ep.id), f))
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cluster = &ctx.model.cluster;
    if cluster.tier_policies.is_empty() {
        return;
    }
    let subjects: Vec<EndpointSet> = cluster
        .tier_policies
        .iter()
        .map(|p| subject_set(cluster, &p.subject))
        .collect();
    for (pi, p) in cluster.tier_policies.iter().enumerate() {
        if ctx.enabled("NF806") {
            subject_selects_nothing(ctx, pi, p, &subjects[pi], out);
        }
        for d in Direction::BOTH {
            for (ri, rule) in p.rules(d).iter().enumerate() {
                let resolved: Vec<TierPeerMatch> =
                    rule.peers.iter().map(|x| peer_match(cluster, x)).collect();
                for (xi, peer) in rule.peers.iter().enumerate() {
                    let at = format!(
                        "{} of {}, peer {}",
                        rule_desc(p, d, ri),
                        policy_desc(p),
                        peer_path(d, ri, xi)
                    );
                    if ctx.enabled("NF807") {
                        peer_selects_nothing(ctx, pi, &at, peer, &resolved[xi], out);
                    }
                    if ctx.enabled("NF808") {
                        networks_cover_pods(ctx, pi, &at, peer, out);
                    }
                    if ctx.enabled("NF810") {
                        if let TierPeer::DomainNames(names) = peer {
                            out.push(ctx.finding(
                                "NF810",
                                Subject::TierPolicy(pi),
                                format!(
                                    "{at}: domainNames {} are not enforced by netfence: the peer matches nothing, so it adds no connection to this {} rule (it fails closed) and later rules decide that traffic",
                                    names.join(", "),
                                    rule.action
                                ),
                            ));
                        }
                    }
                }
                if ctx.enabled("NF809") {
                    named_ports_undefined(ctx, pi, p, d, ri, &subjects[pi], &resolved, out);
                }
            }
        }
    }
    if ["NF801", "NF802", "NF804", "NF805"]
        .iter()
        .any(|id| ctx.enabled(id))
    {
        let mut order = order::Order::default();
        let mut accepts = stages::Accepts::default();
        for stack in &ctx.model.tiers.stacks {
            order.start(cluster, stack);
            walk::walk(ctx.model, stack, |pt| {
                order.visit(cluster, stack, pt);
                accepts.visit(ctx.model, stack, pt);
            });
        }
        order.finish(ctx, &subjects, out);
        accepts.finish(ctx, out);
    }
    if ctx.enabled("NF803") {
        stages::baseline_overridden(ctx, &subjects, out);
    }
}

/// `ingress[0].from[1]`, `egress[2].to[0]`.
fn peer_path(d: Direction, rule: usize, peer: usize) -> String {
    rule_path(d, rule, Some(peer))
}

/// Whether there is anything to judge a namespace-and-pod selection against, and if so
/// the namespaces in scope. None: the input cannot tell (the namespaces it names have
/// no pod in the input, or no declared namespace matches a selector that names
/// namespaces only by name, as for NF102 and NF103).
fn scope(ctx: &Context<'_>, namespaces: &LabelSelector) -> Option<Vec<usize>> {
    let cluster = &ctx.model.cluster;
    let scope: Vec<usize> = cluster
        .namespaces
        .iter()
        .enumerate()
        .filter(|(_, n)| namespaces.matches(&n.labels))
        .map(|(i, _)| i)
        .collect();
    if scope.is_empty() {
        let declared = cluster
            .namespaces
            .iter()
            .any(|n| &*n.source.file != "<implicit>");
        return (declared && !names_namespaces_only(namespaces)).then_some(scope);
    }
    scope
        .iter()
        .any(|&n| ctx.ns_endpoints[n] > 0)
        .then_some(scope)
}

/// Why a namespace-and-pod selection of the input is empty.
fn why_empty(
    ctx: &Context<'_>,
    namespaces: &LabelSelector,
    pods: Option<&LabelSelector>,
    scope: &[usize],
) -> String {
    let cluster = &ctx.model.cluster;
    if scope.is_empty() {
        return format!(
            "namespaces {namespaces} matches none of the {} namespace(s) of the input",
            cluster.namespaces.len()
        );
    }
    let mut names: Vec<&str> = scope
        .iter()
        .take(5)
        .map(|&n| cluster.namespaces[n].name.as_str())
        .collect();
    if scope.len() > 5 {
        names.push("...");
    }
    // The selection is empty: no pod of the pod network matches. Say so when only
    // hostNetwork pods would have.
    let host_only = cluster.endpoints.iter().any(|e| {
        scope.contains(&e.namespace.index())
            && !e.on_pod_network()
            && pods.is_none_or(|p| p.matches(&e.labels))
    });
    if host_only {
        format!(
            "only hostNetwork pods of namespace(s) {} match, and tiered policies never select those",
            names.join(", ")
        )
    } else {
        match pods {
            Some(p) => format!(
                "pods {p} matches no pod or workload of namespace(s) {} (matched by namespaces {namespaces})",
                names.join(", ")
            ),
            None => format!("namespace(s) {} have no pod", names.join(", ")),
        }
    }
}

fn subject_selects_nothing(
    ctx: &Context<'_>,
    pi: usize,
    p: &TierPolicy,
    selected: &EndpointSet,
    out: &mut Vec<Finding>,
) {
    if !ctx.has_endpoints() || !selected.is_empty() {
        return;
    }
    let (namespaces, pods) = match &p.subject {
        TierSubject::Namespaces(ns) => (ns, None),
        TierSubject::Pods { namespaces, pods } => (namespaces, Some(pods)),
    };
    let Some(scope) = scope(ctx, namespaces) else {
        return;
    };
    out.push(ctx.finding(
        "NF806",
        Subject::TierPolicy(pi),
        format!(
            "{}: the subject selects no pod of the input: {}; the policy applies to nothing",
            policy_desc(p),
            why_empty(ctx, namespaces, pods, &scope)
        ),
    ));
}

fn peer_selects_nothing(
    ctx: &Context<'_>,
    pi: usize,
    at: &str,
    peer: &TierPeer,
    resolved: &TierPeerMatch,
    out: &mut Vec<Finding>,
) {
    let cluster = &ctx.model.cluster;
    let why = match (peer, resolved) {
        (TierPeer::Namespaces(ns), TierPeerMatch::Endpoints(set)) if set.is_empty() => {
            if !ctx.has_endpoints() {
                return;
            }
            let Some(scope) = scope(ctx, ns) else { return };
            why_empty(ctx, ns, None, &scope)
        }
        (TierPeer::Pods { namespaces, pods }, TierPeerMatch::Endpoints(set)) if set.is_empty() => {
            if !ctx.has_endpoints() {
                return;
            }
            let Some(scope) = scope(ctx, namespaces) else {
                return;
            };
            why_empty(ctx, namespaces, Some(pods), &scope)
        }
        (TierPeer::Nodes(sel), TierPeerMatch::Addrs(addrs)) if addrs.is_empty() => {
            // Manifests rarely hold Nodes: judge only an input that has some.
            if cluster.nodes.is_empty() {
                return;
            }
            let matching: Vec<&str> = cluster
                .nodes
                .iter()
                .filter(|n| sel.matches(&n.labels))
                .map(|n| n.name.as_str())
                .collect();
            if matching.is_empty() {
                format!(
                    "nodes {sel} matches none of the {} node(s) of the input",
                    cluster.nodes.len()
                )
            } else {
                format!(
                    "nodes {sel} matches node(s) {}, but none has an address in status.addresses",
                    matching.join(", ")
                )
            }
        }
        _ => return,
    };
    out.push(ctx.finding(
        "NF807",
        Subject::TierPolicy(pi),
        format!("{at}: the peer selects nothing in the input: {why}; it matches no connection"),
    ));
}

fn networks_cover_pods(
    ctx: &Context<'_>,
    pi: usize,
    at: &str,
    peer: &TierPeer,
    out: &mut Vec<Finding>,
) {
    let TierPeer::Networks(nets) = peer else {
        return;
    };
    let cluster = &ctx.model.cluster;
    for net in nets {
        let mut pods = EndpointSet::empty(cluster.endpoints.len());
        for e in cluster.endpoints.iter().filter(|e| e.on_pod_network()) {
            // A pod whose address is not known yet may get any: only a CIDR of the
            // whole family is sure to hold it.
            let holds = if e.addrs.is_empty() {
                net.prefix_len() == 0
            } else {
                e.addrs.iter().any(|a| net.contains(a))
            };
            if holds {
                pods.insert(e.id.index());
            }
        }
        let what = if !pods.is_empty() {
            format!(
                "also matches {} pod(s) of the input ({})",
                pods.count(),
                ctx.sample(&pods, 3)
            )
        } else if ctx.config.pod_networks.overlaps_net(net) {
            "overlaps the pod network (networks.pods of the lint config)".to_string()
        } else {
            continue;
        };
        out.push(ctx.finding(
            "NF808",
            Subject::TierPolicy(pi),
            format!(
                "{at}: networks {net} {what}: networks peers are matched against pod addresses too, so the rule applies to pod-to-pod traffic as well"
            ),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn named_ports_undefined(
    ctx: &Context<'_>,
    pi: usize,
    p: &TierPolicy,
    d: Direction,
    ri: usize,
    subjects: &EndpointSet,
    resolved: &[TierPeerMatch],
    out: &mut Vec<Finding>,
) {
    let rule = &p.rules(d)[ri];
    let Some(ports) = &rule.ports else { return };
    if !ctx.has_endpoints() {
        return;
    }
    let cluster = &ctx.model.cluster;
    let (dests, whose) = match d {
        Direction::Ingress => (subjects.clone(), "subject"),
        Direction::Egress => {
            let mut set = EndpointSet::empty(cluster.endpoints.len());
            for e in cluster.endpoints.iter().filter(|e| e.on_pod_network()) {
                if resolved
                    .iter()
                    .any(|x| admits_endpoint(cluster, x, e.id.index()))
                {
                    set.insert(e.id.index());
                }
            }
            (set, "destination")
        }
    };
    if dests.is_empty() {
        return;
    }
    for port in ports {
        let TierPort::Named(name) = port else {
            continue;
        };
        let defined = dests
            .iter()
            .any(|e| cluster.endpoints[e].named_ports(name).next().is_some());
        if defined {
            continue;
        }
        out.push(ctx.finding(
            "NF809",
            Subject::TierPolicy(pi),
            format!(
                "{} of {}: port name {name} is defined by none of the {} {whose} pod(s) ({}): a named port resolves on the destination pod's container ports, so this port matches nothing",
                rule_desc(p, d, ri),
                policy_desc(p),
                dests.count(),
                ctx.sample(&dests, 3)
            ),
        ));
    }
}
