//! `can-reach` and `explain`.

use crate::args::{CanReachArgs, ReachFormat};
use crate::input;
use crate::output::reach_json;
use crate::query;
use anyhow::{anyhow, bail, Result};
use netfence_analyzer::explain;
use netfence_analyzer::reach::Outcome;
use netfence_analyzer::{reach, resolve_target, Flow, Party, Reach, Target};
use netfence_model::objects::Service;
use netfence_model::ports::PortRef;
use netfence_model::{Model, PortSet, Protocol};
use std::process::ExitCode;

/// One evaluated (source, destination, port) of the question.
pub struct Pair {
    pub from: Party,
    /// None when a Service has no backend at all.
    pub to: Option<Party>,
    /// The Service the destination was reached through, if any.
    pub service: Option<String>,
    pub reach: Option<Reach>,
    /// Why the pair could not be evaluated (it counts as denied).
    pub note: Option<String>,
}

pub fn run(args: CanReachArgs, explain_always: bool) -> Result<ExitCode> {
    let input = input::load(&args.input)?;
    let model = &input.model;
    let protocol = args.protocol.as_deref().map(query::protocol).transpose()?;
    let port = args.port.as_deref().map(query::port_ref).transpose()?;
    let family = query::family(args.family);

    let from = match resolve_target(&model.cluster, &args.from, &input.default_ns)? {
        Target::Endpoints { ids, .. } => ids.into_iter().map(Party::Endpoint).collect(),
        Target::External(net) => vec![Party::External(net)],
        Target::Service(_) => bail!(
            "{} is a Service; a Service is not a source, use its pods or workload",
            args.from
        ),
    };
    let base = Flow {
        from: Party::External(ipnet::IpNet::default()),
        to: Party::External(ipnet::IpNet::default()),
        protocol,
        port: None,
        family,
    };
    let mut pairs = Vec::new();
    match resolve_target(&model.cluster, &args.to, &input.default_ns)? {
        Target::Service(svc) => {
            for &src in &from {
                pairs.extend(service_pairs(model, src, svc, port.as_ref(), base)?);
            }
        }
        target => {
            let to: Vec<Party> = match target {
                Target::Endpoints { ids, .. } => ids.into_iter().map(Party::Endpoint).collect(),
                Target::External(net) => vec![Party::External(net)],
                Target::Service(_) => unreachable!("handled above"),
            };
            for &src in &from {
                for &dst in &to {
                    let flow = Flow {
                        from: src,
                        to: dst,
                        port: resolve_port(model, dst, port.as_ref(), protocol)?,
                        protocol: protocol.or_else(|| named_protocol(model, dst, port.as_ref())),
                        ..base
                    };
                    pairs.push(Pair {
                        from: src,
                        to: Some(dst),
                        service: None,
                        reach: Some(reach(model, flow)),
                        note: None,
                    });
                }
            }
        }
    }
    let allowed = !pairs.is_empty()
        && pairs
            .iter()
            .all(|p| p.reach.as_ref().is_some_and(|r| r.allowed));
    let explain = explain_always || args.explain;
    match args.output {
        ReachFormat::Json => {
            let doc = reach_json::document(model, &args, port.as_ref(), protocol, allowed, &pairs);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ReachFormat::Text => print!("{}", text(model, &pairs, allowed, explain)),
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The protocol a named port resolves to on the destination, when the user gave none.
fn named_protocol(model: &Model, dst: Party, port: Option<&PortRef>) -> Option<Protocol> {
    let (Some(PortRef::Name(name)), Party::Endpoint(e)) = (port, dst) else {
        return None;
    };
    let ep = model.cluster.endpoint(e);
    let protos: Vec<Protocol> = ep.named_ports(name).map(|p| p.protocol).collect();
    if protos.contains(&Protocol::Tcp) {
        Some(Protocol::Tcp)
    } else {
        protos.first().copied()
    }
}

/// A port number for the flow: numbers as given, names resolved on the destination pod.
fn resolve_port(
    model: &Model,
    dst: Party,
    port: Option<&PortRef>,
    protocol: Option<Protocol>,
) -> Result<Option<u16>> {
    match port {
        None => Ok(None),
        Some(PortRef::Number(n)) => Ok(Some(*n)),
        Some(PortRef::Name(name)) => {
            let Party::Endpoint(e) = dst else {
                bail!("a named port ({name}) needs a pod or workload destination");
            };
            let ep = model.cluster.endpoint(e);
            let proto = protocol
                .or_else(|| named_protocol(model, dst, port))
                .unwrap_or(Protocol::Tcp);
            ep.named_port(name, proto).map(Some).ok_or_else(|| {
                anyhow!(
                    "{} has no {proto} container port named {name}",
                    model.cluster.endpoint_name(e)
                )
            })
        }
    }
}

/// Pairs for a Service destination: each backend, on the target port of each matching
/// Service port. A backend without the named target port is not an endpoint of it.
fn service_pairs(
    model: &Model,
    src: Party,
    svc: &Service,
    port: Option<&PortRef>,
    base: Flow,
) -> Result<Vec<Pair>> {
    let svc_name = format!("{}/svc/{}", svc.meta.namespace, svc.meta.name);
    let ports: Vec<_> = svc
        .ports
        .iter()
        .filter(|p| match port {
            None => true,
            Some(PortRef::Number(n)) => p.port == *n,
            Some(PortRef::Name(name)) => p.name.as_deref() == Some(name.as_str()),
        })
        .filter(|p| base.protocol.is_none_or(|proto| proto == p.protocol))
        .collect();
    if ports.is_empty() {
        match port {
            Some(p) => bail!("{svc_name} has no port {p}"),
            None => bail!("{svc_name} has no ports"),
        }
    }
    let backends = model.cluster.service_backends(svc);
    let mut pairs = Vec::new();
    if backends.is_empty() {
        pairs.push(Pair {
            from: src,
            to: None,
            service: Some(svc_name.clone()),
            reach: None,
            note: Some(format!("{svc_name} selects no pods: nothing can reach it")),
        });
    }
    for b in backends {
        for sp in &ports {
            let dst = Party::Endpoint(b);
            let target = match &sp.target {
                PortRef::Number(n) => Some(*n),
                PortRef::Name(name) => model.cluster.endpoint(b).named_port(name, sp.protocol),
            };
            let Some(target) = target else {
                pairs.push(Pair {
                    from: src,
                    to: Some(dst),
                    service: Some(svc_name.clone()),
                    reach: None,
                    note: Some(format!(
                        "{} has no {} container port named {}, so it does not serve port {} of {svc_name}",
                        model.cluster.endpoint_name(b),
                        sp.protocol,
                        sp.target,
                        sp.port
                    )),
                });
                continue;
            };
            let flow = Flow {
                from: src,
                to: dst,
                port: Some(target),
                protocol: Some(sp.protocol),
                ..base
            };
            pairs.push(Pair {
                from: src,
                to: Some(dst),
                service: Some(format!("{svc_name}:{}", sp.port)),
                reach: Some(reach(model, flow)),
                note: None,
            });
        }
    }
    Ok(pairs)
}

/// The ports allowed over any evaluated family.
pub fn allowed_ports(r: &Reach) -> PortSet {
    let mut s = PortSet::empty();
    for f in &r.families {
        s.add(&f.allowed_ports);
    }
    s
}

/// One line on why a denied flow was denied.
fn short_reason(model: &Model, r: &Reach) -> Option<String> {
    if r.allowed {
        return None;
    }
    if let Some(n) = &r.note {
        return Some(n.clone());
    }
    let f = r.families.first()?;
    for d in [&f.egress, &f.ingress] {
        if let Outcome::Isolated(u) = d.outcome {
            if !r.flow.admitted_by(&d.allowed_ports) {
                let names: Vec<String> = model.policy_keys(u);
                return Some(format!(
                    "{} of {} is isolated by [{}] and no rule allows this",
                    d.direction,
                    d.subject.name(&model.cluster),
                    names.join(", ")
                ));
            }
        }
    }
    None
}

fn text(model: &Model, pairs: &[Pair], allowed: bool, explain: bool) -> String {
    let mut out = String::new();
    for p in pairs {
        if let Some(via) = &p.service {
            out.push_str(&format!("via {via}:\n"));
        }
        match (&p.reach, &p.note) {
            (_, Some(note)) => out.push_str(&format!("DENIED: {note}\n")),
            (Some(r), None) if explain => out.push_str(&explain::render(model, r)),
            (Some(r), None) => {
                out.push_str(&format!(
                    "{} -> {} on {}: {}\n",
                    r.flow.from.name(&model.cluster),
                    r.flow.to.name(&model.cluster),
                    explain::flow_ports(&r.flow),
                    if r.allowed { "ALLOWED" } else { "DENIED" }
                ));
                if r.flow.port.is_none() {
                    out.push_str(&format!("  allowed ports: {}\n", allowed_ports(r)));
                }
                if let Some(reason) = short_reason(model, r) {
                    out.push_str(&format!("  {reason} (see: explain)\n"));
                }
            }
            (None, None) => {}
        }
    }
    if pairs.len() > 1 {
        let ok = pairs
            .iter()
            .filter(|p| p.reach.as_ref().is_some_and(|r| r.allowed))
            .count();
        out.push_str(&format!(
            "{}: {ok} of {} pairs allowed\n",
            if allowed { "ALLOWED" } else { "DENIED" },
            pairs.len()
        ));
    }
    out
}
