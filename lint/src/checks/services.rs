//! NF304 a Service port its backends' ingress policies do not allow; NF305 a rule that
//! allows a Service's port where its backends listen on another targetPort.

use crate::context::{rule_path, Context};
use crate::finding::{Finding, Subject};
use netfence_model::compile::resolve_ports;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::{Direction, Peer, PortSpec, ServicePort};
use netfence_model::ports::PortRef;
use netfence_model::{Endpoint, EndpointSet, PolicyId};
use std::collections::{BTreeSet, HashSet};

fn port_label(sp: &ServicePort) -> String {
    match &sp.name {
        Some(n) => format!("{n} ({}/{})", sp.port, sp.protocol),
        None => format!("{}/{}", sp.port, sp.protocol),
    }
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let model = ctx.model;
    let cluster = &model.cluster;
    let n = cluster.endpoints.len();
    let mut reported: HashSet<(PolicyId, Direction, usize, usize, usize)> = HashSet::new();
    for (si, svc) in cluster.services.iter().enumerate() {
        let backends: Vec<&Endpoint> = cluster
            .service_backends(svc)
            .into_iter()
            .map(|e| cluster.endpoint(e))
            .filter(|e| e.on_pod_network())
            .collect();
        if backends.is_empty() {
            continue;
        }
        let mut backend_set = EndpointSet::empty(n);
        for b in &backends {
            backend_set.insert(b.id.index());
        }
        for (pi, sp) in svc.ports.iter().enumerate() {
            // NF304: backends whose ingress union allows the target port from nobody.
            let mut denied = EndpointSet::empty(n);
            let mut isolating: BTreeSet<String> = BTreeSet::new();
            for b in &backends {
                let (Some(t), Some(u)) = (
                    sp.target_port_on(b),
                    model.union_of(b.id, Direction::Ingress),
                ) else {
                    continue;
                };
                if !u
                    .allows
                    .iter()
                    .any(|a| a.ports_for(Some(b)).contains(sp.protocol, t))
                {
                    denied.insert(b.id.index());
                    isolating.extend(u.policies.iter().map(|p| ctx.policy_key(*p)));
                }
            }
            if !denied.is_empty() {
                out.push(ctx.finding(
                    "NF304",
                    Subject::Service(si),
                    format!(
                        "port {} -> targetPort {}: {} of {} backend(s) ({}) allow it from no source (ingress isolated by [{}])",
                        port_label(sp),
                        sp.target,
                        denied.count(),
                        backends.len(),
                        ctx.sample(&denied, 3),
                        isolating.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }

            // NF305: rules towards these backends that allow the Service port only.
            let targets: BTreeSet<u16> = backends
                .iter()
                .filter_map(|b| sp.target_port_on(b))
                .collect();
            let listens_on_port = backends.iter().any(|b| {
                b.ports
                    .iter()
                    .any(|p| p.port == sp.port && p.protocol == sp.protocol)
            });
            if targets.is_empty() || targets.iter().all(|t| *t == sp.port) || listens_on_port {
                continue;
            }
            for r in ctx.rules() {
                let allows_service_port = r.rule.ports.iter().any(|s| {
                    matches!(s, PortSpec::Range { protocol, start, end }
                        if *protocol == sp.protocol && *start <= sp.port && sp.port <= *end)
                });
                if !allows_service_port {
                    continue;
                }
                let mut reached = match r.direction {
                    Direction::Ingress => ctx.selected[r.policy.index()].clone(),
                    Direction::Egress => {
                        let mut s = EndpointSet::empty(n);
                        for (i, p) in r.rule.peers.iter().enumerate() {
                            if let (Peer::Selectors { .. }, Some(set)) =
                                (p, ctx.peer_endpoints(&r, i))
                            {
                                s.union_with(set);
                            }
                        }
                        s
                    }
                };
                reached.intersect_with(&backend_set);
                let misses = reached.iter().any(|i| {
                    let b = &cluster.endpoints[i];
                    sp.target_port_on(b).is_some_and(|t| {
                        !resolve_ports(&r.rule.ports, Some(b)).contains(sp.protocol, t)
                    })
                });
                if !misses || !reported.insert((r.policy, r.direction, r.index, si, pi)) {
                    continue;
                }
                let mut t: Vec<String> = targets.iter().map(ToString::to_string).collect();
                if let PortRef::Name(name) = &sp.target {
                    t.push(format!("named {name}"));
                }
                out.push(ctx.finding_at(
                    "NF305",
                    r.policy,
                    PolicyField::Rule(r.direction, r.index),
                    format!(
                        "{}: allows {}/{}, the port of Service {}/{}, towards its backends, which listen on targetPort {}: policies see target ports, so this does not allow the Service's traffic",
                        rule_path(r.direction, r.index, None),
                        sp.port,
                        sp.protocol,
                        svc.meta.namespace,
                        svc.meta.name,
                        t.join(", "),
                    ),
                ));
            }
        }
    }
}
