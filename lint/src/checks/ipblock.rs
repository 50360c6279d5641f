//! NF401 ipBlock covering pods, NF402 covering Service addresses, NF404 overlapping except
//! entries, NF405 an except that another rule or policy allows again.

use crate::context::{rule_path, Context, RuleRef};
use crate::finding::Finding;
use ipnet::IpNet;
use netfence_model::addr::Family;
use netfence_model::compile::{block_admits_endpoint, PeerMatch};
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::{Peer, PortSpec};
use netfence_model::{AddrSet, Allow, EndpointSet, IpBlock, PeerRef, PortSet};
use std::collections::HashSet;

/// The ports a list may cover, named ports counted as every port of their protocol
/// (they resolve per destination).
fn port_hull(specs: &[PortSpec]) -> PortSet {
    if specs.is_empty() {
        return PortSet::all();
    }
    let mut s = PortSet::empty();
    for spec in specs {
        match spec {
            PortSpec::AllOf(p) | PortSpec::Named { protocol: p, .. } => s.add(&PortSet::all_of(*p)),
            PortSpec::Range {
                protocol,
                start,
                end,
            } => s.add_range(*protocol, *start, *end),
        }
    }
    s
}

fn pods_in(ctx: &Context<'_>, block: &IpBlock) -> EndpointSet {
    let cluster = &ctx.model.cluster;
    let mut s = EndpointSet::empty(cluster.endpoints.len());
    for e in cluster.endpoints.iter().filter(|e| e.on_pod_network()) {
        if block_admits_endpoint(block, e, block.family()) {
            s.insert(e.id.index());
        }
    }
    s
}

fn covers_pods(
    ctx: &Context<'_>,
    r: &RuleRef<'_>,
    i: usize,
    block: &IpBlock,
    out: &mut Vec<Finding>,
) {
    let pods = pods_in(ctx, block);
    let path = rule_path(r.direction, r.index, Some(i));
    let message = if !pods.is_empty() {
        format!(
            "{path}: ipBlock {block} also matches {} pod(s) of the input ({}): ipBlock is matched against pod addresses too",
            pods.count(),
            ctx.sample(&pods, 3)
        )
    } else if !block
        .addrs
        .intersection(&ctx.config.pod_networks)
        .is_empty()
    {
        format!("{path}: ipBlock {block} overlaps the pod network (networks.pods of the lint config): it matches pods too")
    } else {
        return;
    };
    let field = PolicyField::Cidr(r.direction, r.index, i);
    out.push(ctx.finding_at("NF401", r.policy, field, message));
}

fn covers_services(
    ctx: &Context<'_>,
    r: &RuleRef<'_>,
    i: usize,
    block: &IpBlock,
    out: &mut Vec<Finding>,
) {
    if block.addrs.intersection(&ctx.service_network).is_empty() {
        return;
    }
    let cluster = &ctx.model.cluster;
    let hit: Vec<String> = cluster
        .services
        .iter()
        .filter(|s| s.cluster_ips.iter().any(|a| block.addrs.contains(a)))
        .take(3)
        .map(|s| format!("{}/{}", s.meta.namespace, s.meta.name))
        .collect();
    let which = if hit.is_empty() {
        "the Service network (networks.services of the lint config)".to_string()
    } else {
        format!("the ClusterIPs of Service(s) {}", hit.join(", "))
    };
    out.push(ctx.finding_at(
        "NF402",
        r.policy,
        PolicyField::Cidr(r.direction, r.index, i),
        format!(
            "{}: ipBlock {block} covers {which}; policies see pod addresses after Service translation, so this never matches Service traffic",
            rule_path(r.direction, r.index, Some(i))
        ),
    ));
}

fn except_overlaps(
    ctx: &Context<'_>,
    r: &RuleRef<'_>,
    i: usize,
    block: &IpBlock,
    out: &mut Vec<Finding>,
) {
    for (a, x) in block.except.iter().enumerate() {
        for (b, y) in block.except.iter().enumerate().skip(a + 1) {
            if x.contains(y) || y.contains(x) {
                // At the later entry: the one that repeats the earlier.
                out.push(ctx.finding_at(
                    "NF404",
                    r.policy,
                    PolicyField::Except(r.direction, r.index, i, b),
                    format!(
                        "{}: except entries {x} and {y} of ipBlock {} overlap",
                        rule_path(r.direction, r.index, Some(i)),
                        block.cidr
                    ),
                ));
            }
        }
    }
}

/// Does allow `a` admit some address of `range`?
fn admits_part_of(ctx: &Context<'_>, a: &Allow, range: &IpNet) -> bool {
    match a.peer {
        PeerRef::Any => true,
        PeerRef::Peer(id) => match ctx.model.peer(id) {
            PeerMatch::Addrs(b) => !b.addrs.intersection(&AddrSet::from_net(range)).is_empty(),
            PeerMatch::Endpoints(s) => s.iter().any(|e| {
                ctx.model.cluster.endpoints[e]
                    .addrs
                    .iter()
                    .any(|addr| range.contains(addr))
            }),
        },
    }
}

fn origin(ctx: &Context<'_>, a: &Allow) -> String {
    let what = match a.peer {
        PeerRef::Any => " (no from/to: any address)".to_string(),
        PeerRef::Peer(_) => {
            let p = ctx.model.cluster.policy(a.policy);
            format!(
                " ({})",
                p.rules(a.direction)[a.rule].peers[a.peer_index.unwrap_or(0)]
            )
        }
    };
    format!(
        "{} {}{what}",
        ctx.policy_key(a.policy),
        rule_path(a.direction, a.rule, a.peer_index)
    )
}

fn except_allowed_again(
    ctx: &Context<'_>,
    r: &RuleRef<'_>,
    i: usize,
    block: &IpBlock,
    out: &mut Vec<Finding>,
) {
    if block.except.is_empty() {
        return;
    }
    let hull = port_hull(&r.rule.ports);
    let unions: Vec<_> = ctx
        .model
        .unions
        .iter()
        .filter(|u| u.direction == r.direction && u.policies.contains(&r.policy))
        .collect();
    for (k, ex) in block.except.iter().enumerate() {
        let mut seen = HashSet::new();
        let mut others = Vec::new();
        'unions: for u in &unions {
            for a in &u.allows {
                let me = a.policy == r.policy && a.rule == r.index && a.peer_index == Some(i);
                if me || !seen.insert((a.policy, a.rule, a.peer_index)) {
                    continue;
                }
                if !port_hull(&a.ports).intersection(&hull).is_empty() && admits_part_of(ctx, a, ex)
                {
                    others.push(origin(ctx, a));
                    if others.len() == 3 {
                        break 'unions;
                    }
                }
            }
        }
        if !others.is_empty() {
            out.push(ctx.finding_at(
                "NF405",
                r.policy,
                PolicyField::Except(r.direction, r.index, i, k),
                format!(
                    "{}: except {ex} of ipBlock {} is allowed again by {}: except is not a deny",
                    rule_path(r.direction, r.index, Some(i)),
                    block.cidr,
                    others.join("; ")
                ),
            ));
        }
    }
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.rules() {
        for (i, peer) in r.rule.peers.iter().enumerate() {
            let Peer::Block(block) = peer else { continue };
            // Templates have no address yet: only a block of a whole family covers them.
            let may_cover_pods = !block.addrs.intersection(&ctx.pod_network).is_empty()
                || block.addrs.covers_family(Family::V4)
                || block.addrs.covers_family(Family::V6);
            if ctx.enabled("NF401") && may_cover_pods {
                covers_pods(ctx, &r, i, block, out);
            }
            covers_services(ctx, &r, i, block, out);
            except_overlaps(ctx, &r, i, block, out);
            if ctx.enabled("NF405") {
                except_allowed_again(ctx, &r, i, block, out);
            }
        }
    }
}
