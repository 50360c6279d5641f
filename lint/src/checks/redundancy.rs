//! NF601 a rule whose peers and ports another rule (of a policy selecting at least the
//! same pods) already allows; NF602 duplicate policies.

use crate::context::{is_subset, rule_path, Context};
use crate::finding::{Finding, Subject};
use netfence_model::compile::PeerMatch;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::{Direction, Peer, PortSpec};
use netfence_model::{AddrSet, EndpointSet, PolicyId, PortSet, Protocol};
use std::collections::{BTreeSet, HashSet};

/// What a rule admits, in comparable form.
struct Item {
    policy: PolicyId,
    direction: Direction,
    rule: usize,
    any_peer: bool,
    pods: EndpointSet,
    addrs: AddrSet,
    all_ports: bool,
    numeric: PortSet,
    named: BTreeSet<(Protocol, String)>,
}

impl Item {
    /// Does `self` admit everything `other` admits (peers and ports)?
    fn covers(&self, other: &Item) -> bool {
        let peers = self.any_peer
            || (!other.any_peer
                && is_subset(&other.pods, &self.pods)
                && other.addrs.difference(&self.addrs).is_empty());
        let ports = self.all_ports
            || (!other.all_ports
                && other.numeric.is_subset(&self.numeric)
                && other.named.iter().all(|(p, n)| {
                    self.named.contains(&(*p, n.clone())) || self.numeric.protocol(*p).is_full()
                }));
        peers && ports
    }
}

fn item(ctx: &Context<'_>, r: &crate::context::RuleRef<'_>) -> Option<Item> {
    let n = ctx.model.cluster.endpoints.len();
    let mut it = Item {
        policy: r.policy,
        direction: r.direction,
        rule: r.index,
        any_peer: r.rule.peers.is_empty(),
        pods: EndpointSet::empty(n),
        addrs: AddrSet::empty(),
        all_ports: r.rule.ports.is_empty(),
        numeric: PortSet::empty(),
        named: BTreeSet::new(),
    };
    for (i, p) in r.rule.peers.iter().enumerate() {
        let id = ctx.model.peer_id(r.policy, r.direction, r.index, i);
        match (p, ctx.model.peer(id)) {
            (_, PeerMatch::Addrs(b)) => it.addrs = it.addrs.union(&b.addrs),
            (Peer::Selectors { .. }, PeerMatch::Endpoints(s)) => {
                // A selector matching nothing is NF103's business; comparing empty sets
                // would call it redundant.
                if s.is_empty() {
                    return None;
                }
                it.pods.union_with(s);
            }
            (Peer::Block(_), PeerMatch::Endpoints(_)) => return None,
        }
    }
    for spec in &r.rule.ports {
        match spec {
            PortSpec::AllOf(p) => it.numeric.add(&PortSet::all_of(*p)),
            PortSpec::Range {
                protocol,
                start,
                end,
            } => it.numeric.add_range(*protocol, *start, *end),
            PortSpec::Named { protocol, name } => {
                it.named.insert((*protocol, name.clone()));
            }
        }
    }
    Some(it)
}

/// Same namespace, same selection, same types, same rules.
fn duplicates(ctx: &Context<'_>, a: usize, b: usize) -> bool {
    let c = &ctx.model.cluster;
    let (pa, pb) = (&c.policies[a], &c.policies[b]);
    let same_selection = pa.pod_selector == pb.pod_selector
        || (!ctx.selected[a].is_empty() && ctx.selected[a] == ctx.selected[b]);
    c.policy_namespace[a] == c.policy_namespace[b]
        && same_selection
        && pa.affects_ingress == pb.affects_ingress
        && pa.affects_egress == pb.affects_egress
        && Direction::BOTH.iter().all(|d| pa.rules(*d) == pb.rules(*d))
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cluster = &ctx.model.cluster;
    // Policies by namespace (they are sorted by namespace, then name).
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); cluster.namespaces.len()];
    for (pi, ns) in cluster.policy_namespace.iter().enumerate() {
        groups[ns.index()].push(pi);
    }
    let mut dup_pairs: HashSet<(u32, u32)> = HashSet::new();
    for g in &groups {
        for (x, &a) in g.iter().enumerate() {
            for &b in &g[x + 1..] {
                if duplicates(ctx, a, b) {
                    dup_pairs.insert((a as u32, b as u32));
                    dup_pairs.insert((b as u32, a as u32));
                    out.push(ctx.finding(
                        "NF602",
                        Subject::Policy(PolicyId(b as u32)),
                        format!(
                            "duplicates {}: same pods, same policy types, same rules",
                            cluster.policies[a].key()
                        ),
                    ));
                }
            }
        }
    }
    if !ctx.has_endpoints() || !ctx.enabled("NF601") {
        return;
    }
    let mut items: Vec<Vec<Item>> = (0..cluster.namespaces.len()).map(|_| Vec::new()).collect();
    for r in ctx.rules() {
        if ctx.selected[r.policy.index()].is_empty() {
            continue;
        }
        if let Some(it) = item(ctx, &r) {
            items[cluster.policy_namespace[r.policy.index()].index()].push(it);
        }
    }
    for ns_items in &items {
        for (x, small) in ns_items.iter().enumerate() {
            let wider = ns_items.iter().enumerate().find(|(y, big)| {
                *y != x
                    && big.direction == small.direction
                    && !dup_pairs.contains(&(small.policy.0, big.policy.0))
                    && is_subset(
                        &ctx.selected[small.policy.index()],
                        &ctx.selected[big.policy.index()],
                    )
                    && big.covers(small)
                    // Two equal rules: report only the later one.
                    && !(small.covers(big)
                        && ctx.selected[small.policy.index()] == ctx.selected[big.policy.index()]
                        && (small.policy, small.rule) < (big.policy, big.rule))
            });
            let Some((_, big)) = wider else { continue };
            let mine = rule_path(small.direction, small.rule, None);
            let theirs = rule_path(big.direction, big.rule, None);
            let message = if big.policy == small.policy {
                format!(
                    "{mine} is redundant: {theirs} of the same policy already allows all it allows"
                )
            } else {
                format!(
                    "{mine} is redundant: {} {theirs} already allows all it allows, to every pod this policy selects",
                    ctx.policy_key(big.policy)
                )
            };
            let field = PolicyField::Rule(small.direction, small.rule);
            out.push(ctx.finding_at("NF601", small.policy, field, message));
        }
    }
}
