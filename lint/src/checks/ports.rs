//! NF301 named port no destination defines, NF302 numeric port no destination declares,
//! NF303 named port resolving differently across destinations.

use crate::context::{rule_path, Context};
use crate::finding::Finding;
use netfence_model::field_lines::PolicyField;
use netfence_model::objects::PortSpec;
use netfence_model::EndpointSet;
use std::collections::BTreeMap;

fn named(
    ctx: &Context<'_>,
    dests: &EndpointSet,
    name: &str,
    proto: netfence_model::Protocol,
) -> (BTreeMap<u16, usize>, usize, usize) {
    let mut numbers: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut other_proto, mut pods) = (0, 0);
    for i in dests.iter() {
        let e = &ctx.model.cluster.endpoints[i];
        if !e.on_pod_network() {
            continue;
        }
        pods += 1;
        match e.named_port(name, proto) {
            Some(p) => *numbers.entry(p).or_default() += 1,
            None if e.named_ports(name).next().is_some() => other_proto += 1,
            None => {}
        }
    }
    (numbers, other_proto, pods)
}

pub fn run(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.has_endpoints() {
        return;
    }
    let cluster = &ctx.model.cluster;
    for r in ctx.rules() {
        if r.rule.ports.is_empty() {
            continue;
        }
        let (dests, only_pods) = ctx.destinations(&r);
        if dests.is_empty() {
            continue;
        }
        let path = rule_path(r.direction, r.index, None);
        let whose = match r.direction {
            netfence_model::objects::Direction::Ingress => "selected",
            netfence_model::objects::Direction::Egress => "destination",
        };
        for (k, spec) in r.rule.ports.iter().enumerate() {
            let field = PolicyField::Port(r.direction, r.index, k);
            match spec {
                PortSpec::Named { protocol, name } => {
                    let (numbers, other_proto, pods) = named(ctx, &dests, name, *protocol);
                    if pods == 0 {
                        continue;
                    }
                    let other = if other_proto > 0 {
                        format!("; {other_proto} pod(s) name it with another protocol")
                    } else {
                        String::new()
                    };
                    if numbers.is_empty() {
                        out.push(ctx.finding_at(
                            "NF301",
                            r.policy,
                            field,
                            format!(
                                "{path}: port {name}/{protocol} matches nothing: none of the {pods} {whose} pod(s) ({}) defines a {protocol} container port named {name}{other}",
                                ctx.sample(&dests, 3)
                            ),
                        ));
                    } else if only_pods && (numbers.len() > 1 || other_proto > 0) {
                        let parts: Vec<String> = numbers
                            .iter()
                            .map(|(p, n)| format!("{p} on {n} pod(s)"))
                            .collect();
                        let unresolved = pods - numbers.values().sum::<usize>();
                        out.push(ctx.finding_at(
                            "NF303",
                            r.policy,
                            field,
                            format!(
                                "{path}: port {name}/{protocol} resolves to {}{}{other}",
                                parts.join(", "),
                                if unresolved > 0 {
                                    format!(" and to nothing on {unresolved} pod(s)")
                                } else {
                                    String::new()
                                }
                            ),
                        ));
                    }
                }
                PortSpec::Range {
                    protocol,
                    start,
                    end,
                } if only_pods => {
                    let mut declaring = 0;
                    let mut hit = false;
                    for i in dests.iter() {
                        let e = &cluster.endpoints[i];
                        if e.ports.is_empty() {
                            continue;
                        }
                        declaring += 1;
                        if e.ports
                            .iter()
                            .any(|p| p.protocol == *protocol && *start <= p.port && p.port <= *end)
                        {
                            hit = true;
                            break;
                        }
                    }
                    if declaring > 0 && !hit {
                        out.push(ctx.finding_at(
                            "NF302",
                            r.policy,
                            field,
                            format!(
                                "{path}: port {spec} is declared by none of the {} {whose} pod(s) ({})",
                                dests.count(),
                                ctx.sample(&dests, 3)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}
