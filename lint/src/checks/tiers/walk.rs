//! The connections a tier stack decides, enumerated exactly over the input: each member
//! (subject pod) with every other pod of the pod network, and with one address of each
//! piece the stack's `networks` and `nodes` peers cut the address space into (every
//! address of a piece is matched alike, node addresses included), over each family both
//! ends can speak. The stack itself evaluates each one, from all ports undecided.

use netfence_model::addr::Family;
use netfence_model::objects::Direction;
use netfence_model::tiers::{TierPeerMatch, TierStack, TierStage};
use netfence_model::{AddrSet, Endpoint, EndpointId, Model, Party, PortSet};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One connection of a stack's members, and what the stack did with it.
pub struct Point<'m> {
    pub subject: EndpointId,
    pub other: Party,
    pub family: Family,
    /// The destination pod, on which named ports resolve.
    pub dst: Option<&'m Endpoint>,
    pub stage: TierStage,
}

fn addr_of(family: Family, v: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// One address, held by no pod, of every piece of the address space on which all of
/// `sets` agree and which some of them hold. (Pod addresses are visited as pods; a
/// piece made only of pod addresses has nothing else to visit.)
fn addr_pieces(sets: &[&AddrSet], pod_addrs: &HashSet<IpAddr>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for family in Family::ALL {
        let (ranges, max): (Vec<(u128, u128)>, u128) = match family {
            Family::V4 => (
                sets.iter()
                    .flat_map(|s| s.v4.ranges().iter())
                    .map(|&(a, b)| (u128::from(a), u128::from(b)))
                    .collect(),
                u128::from(u32::MAX),
            ),
            Family::V6 => (
                sets.iter()
                    .flat_map(|s| s.v6.ranges().iter().copied())
                    .collect(),
                u128::MAX,
            ),
        };
        let mut cuts: Vec<u128> = Vec::new();
        for &(a, b) in &ranges {
            cuts.push(a);
            if b < max {
                cuts.push(b + 1);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for (k, &start) in cuts.iter().enumerate() {
            let end = cuts.get(k + 1).map_or(max, |next| next - 1);
            if !sets.iter().any(|s| s.contains(&addr_of(family, start))) {
                continue;
            }
            // Each step skips a pod's address, so this ends within pods + 1 steps.
            let mut v = start;
            loop {
                let a = addr_of(family, v);
                if !pod_addrs.contains(&a) {
                    out.push(a);
                    break;
                }
                if v == end {
                    break;
                }
                v += 1;
            }
        }
    }
    out
}

/// Calls `visit` with every connection of the stack's members that some element of
/// the stack matches (the others decide nothing), self traffic excepted (no policy
/// applies to it).
pub fn walk(model: &Model, stack: &TierStack, mut visit: impl FnMut(&Point<'_>)) {
    let cluster = &model.cluster;
    let pods: Vec<&Endpoint> = cluster
        .endpoints
        .iter()
        .filter(|e| e.on_pod_network())
        .collect();
    let pod_addrs: HashSet<IpAddr> = pods.iter().flat_map(|e| e.addrs.iter().copied()).collect();
    let sets: Vec<&AddrSet> = stack
        .elements
        .iter()
        .filter_map(|el| match &el.peer {
            TierPeerMatch::Addrs(a) => Some(a),
            _ => None,
        })
        .collect();
    let others: Vec<Party> = pods
        .iter()
        .map(|e| Party::Endpoint(e.id))
        .chain(
            addr_pieces(&sets, &pod_addrs)
                .into_iter()
                .map(|a| Party::External(a.into())),
        )
        .filter(|o| {
            stack.elements.iter().any(|el| {
                Family::ALL
                    .into_iter()
                    .any(|f| el.peer.admits(cluster, *o, f))
            })
        })
        .collect();
    let all = PortSet::all();
    for &s in &stack.members {
        let subject = Party::Endpoint(s);
        for &other in &others {
            if other == subject {
                continue;
            }
            let dst = match stack.direction {
                Direction::Ingress => Some(cluster.endpoint(s)),
                Direction::Egress => other.endpoint().map(|e| cluster.endpoint(e)),
            };
            for family in model.shared_families(subject, other) {
                let stage = stack.evaluate(cluster, other, family, dst, &all);
                visit(&Point {
                    subject: s,
                    other,
                    family,
                    dst,
                    stage,
                });
            }
        }
    }
}
