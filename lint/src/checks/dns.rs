//! NF207: pods isolated for egress that cannot reach the cluster DNS on UDP and TCP 53.

use crate::context::Context;
use crate::finding::{Finding, Subject};
use netfence_model::addr::Family;
use netfence_model::compile::PeerMatch;
use netfence_model::objects::{Direction, Peer, PortSpec};
use netfence_model::selector::Labels;
use netfence_model::{Allow, EndpointSet, PeerRef, PolicyUnion, Protocol};

const DNS_NAMESPACE: &str = "kube-system";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// Does a port list admit 53 of `proto` on a kube-dns pod (named ports `dns` for UDP
/// and `dns-tcp` for TCP, as the kube-dns and CoreDNS manifests name them)?
fn admits_dns_port(specs: &[PortSpec], proto: Protocol) -> bool {
    specs.is_empty()
        || specs.iter().any(|s| match s {
            PortSpec::AllOf(p) => *p == proto,
            PortSpec::Range {
                protocol,
                start,
                end,
            } => *protocol == proto && *start <= 53 && 53 <= *end,
            PortSpec::Named { protocol, name } => {
                *protocol == proto
                    && matches!(
                        (proto, name.as_str()),
                        (Protocol::Udp, "dns") | (Protocol::Tcp, "dns-tcp")
                    )
            }
        })
}

/// The DNS pods the input holds: pods (or templates) labelled k8s-app=kube-dns.
fn dns_endpoints(ctx: &Context<'_>) -> Vec<usize> {
    ctx.model
        .cluster
        .endpoints
        .iter()
        .filter(|e| e.labels.get(DNS_LABEL.0).map(String::as_str) == Some(DNS_LABEL.1))
        .map(|e| e.id.index())
        .collect()
}

/// Without DNS pods in the input: would the allow admit a kube-dns pod of kube-system?
fn admits_virtual_dns(ctx: &Context<'_>, a: &Allow) -> bool {
    let cluster = &ctx.model.cluster;
    let PeerRef::Peer(_) = a.peer else {
        return true;
    };
    let policy = cluster.policy(a.policy);
    let peer = &policy.rules(a.direction)[a.rule].peers[a.peer_index.unwrap_or(0)];
    match peer {
        // The DNS pods' addresses are unknown: only a block of every address covers them.
        Peer::Block(b) => b.addrs.covers_family(Family::V4) || b.addrs.covers_family(Family::V6),
        Peer::Selectors { namespace, pod } => {
            let ns_ok = match namespace {
                None => policy.meta.namespace == DNS_NAMESPACE,
                Some(sel) => {
                    let labels = cluster
                        .namespace_id(DNS_NAMESPACE)
                        .map(|id| cluster.namespace(id).labels.clone())
                        .unwrap_or_else(|| {
                            Labels::from([(
                                "kubernetes.io/metadata.name".to_string(),
                                DNS_NAMESPACE.to_string(),
                            )])
                        });
                    sel.matches(&labels)
                }
            };
            let pod_labels = Labels::from([(DNS_LABEL.0.to_string(), DNS_LABEL.1.to_string())]);
            ns_ok && pod.as_ref().is_none_or(|s| s.matches(&pod_labels))
        }
    }
}

/// (UDP allowed, TCP allowed) to DNS for the members of an egress union.
fn dns_allowed(ctx: &Context<'_>, u: &PolicyUnion, dns: &[usize]) -> (bool, bool) {
    let model = ctx.model;
    let mut ok = (false, false);
    for a in &u.allows {
        if dns.is_empty() {
            if admits_virtual_dns(ctx, a) {
                ok.0 |= admits_dns_port(&a.ports, Protocol::Udp);
                ok.1 |= admits_dns_port(&a.ports, Protocol::Tcp);
            }
            continue;
        }
        for &d in dns {
            let e = &model.cluster.endpoints[d];
            let family = e.addrs.first().map_or(Family::V4, Family::of);
            let peer_ok = match a.peer {
                PeerRef::Any => true,
                PeerRef::Peer(id) => match model.peer(id) {
                    PeerMatch::Endpoints(s) => s.contains(d),
                    PeerMatch::Addrs(_) => model.peer_admits_endpoint(a.peer, e, family),
                },
            };
            if peer_ok {
                let ports = a.ports_for(Some(e));
                ok.0 |= ports.contains(Protocol::Udp, 53);
                ok.1 |= ports.contains(Protocol::Tcp, 53);
            }
        }
        if ok == (true, true) {
            break;
        }
    }
    ok
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let model = ctx.model;
    let dns = dns_endpoints(ctx);
    for u in model
        .unions
        .iter()
        .filter(|u| u.direction == Direction::Egress)
    {
        // The DNS pods themselves resolve upstream, not through themselves.
        let members: Vec<usize> = u
            .members
            .iter()
            .map(|m| m.index())
            .filter(|m| !dns.contains(m))
            .collect();
        if members.is_empty() {
            continue;
        }
        let (udp, tcp) = dns_allowed(ctx, u, &dns);
        if udp && tcp {
            continue;
        }
        // Any of the union's policies may carry the suppression: report on that one.
        let subject = u
            .policies
            .iter()
            .copied()
            .find(|p| ctx.ignored_by_annotation(Subject::Policy(*p), "NF207"))
            .unwrap_or(u.policies[0]);
        let mut set = EndpointSet::empty(model.cluster.endpoints.len());
        for m in &members {
            set.insert(*m);
        }
        let policies: Vec<String> = u.policies.iter().map(|p| ctx.policy_key(*p)).collect();
        let missing = match (udp, tcp) {
            (false, false) => "UDP and TCP port 53",
            (true, false) => "TCP port 53 (answers too large for UDP fail)",
            _ => "UDP port 53",
        };
        out.push(ctx.finding(
            "NF207",
            Subject::Policy(subject),
            format!(
                "{} pod(s) ({}) are isolated for egress by [{}], and nothing allows them {missing} to kube-dns: name resolution fails",
                members.len(),
                ctx.sample(&set, 3),
                policies.join(", ")
            ),
        ));
    }
}
