//! `can-reach` and `explain`.

use crate::args::{CanReachArgs, ReachFormat};
use crate::input;
use crate::output::reach_json;
use crate::query;
use anyhow::{bail, Result};
use netfence_analyzer::destination::{destination_port, named_protocol, service_flows};
use netfence_analyzer::explain;
use netfence_analyzer::{reach, resolve_target, Flow, Party, Reach, Target, Verdict};
use netfence_model::objects::Service;
use netfence_model::ports::PortRef;
use netfence_model::Isolation;
use netfence_model::{Model, PortSet};
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

    let from = match resolve_target(&model.cluster, &args.from, &input.scope)? {
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
    match resolve_target(&model.cluster, &args.to, &input.scope)? {
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
                        port: destination_port(model, dst, port.as_ref(), protocol)?,
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
    let verdict = if pairs.is_empty() {
        Verdict::Denied
    } else {
        Verdict::all_of(pairs.iter().map(Pair::verdict))
    };
    let explain = explain_always || args.explain;
    match args.output {
        ReachFormat::Json => {
            let doc = reach_json::document(model, &args, port.as_ref(), protocol, verdict, &pairs);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ReachFormat::Text => print!("{}", text(model, &pairs, verdict, explain)),
    }
    Ok(ExitCode::from(match verdict {
        Verdict::Allowed => 0,
        Verdict::Denied => 1,
        Verdict::Unknown => 3,
    }))
}

impl Pair {
    /// A pair that could not be evaluated counts as denied.
    pub fn verdict(&self) -> Verdict {
        self.reach.as_ref().map_or(Verdict::Denied, |r| r.verdict)
    }
}

/// Pairs for a Service destination: each backend, on the target port of each matching
/// Service port, evaluated.
fn service_pairs(
    model: &Model,
    src: Party,
    svc: &Service,
    port: Option<&PortRef>,
    base: Flow,
) -> Result<Vec<Pair>> {
    Ok(service_flows(model, src, svc, port, base)?
        .into_iter()
        .map(|s| Pair {
            from: src,
            to: s.backend,
            service: Some(s.service),
            reach: s.flow.map(|f| reach(model, f)),
            note: s.note,
        })
        .collect())
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
    if r.verdict != Verdict::Denied {
        return None;
    }
    if let Some(n) = &r.note {
        return Some(n.clone());
    }
    let f = r.families.first()?;
    for d in [&f.egress, &f.ingress] {
        if let Isolation::Isolated(u) = d.outcome {
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

fn text(model: &Model, pairs: &[Pair], verdict: Verdict, explain: bool) -> String {
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
                    r.verdict.as_str().to_ascii_uppercase()
                ));
                for u in &r.unknowns {
                    out.push_str(&format!("  unknown: {u}\n"));
                }
                if r.flow.port.is_none() {
                    out.push_str(&format!("  allowed ports: {}\n", allowed_ports(r)));
                    let mut maybe = PortSet::empty();
                    for f in &r.families {
                        maybe.add(&explain::maybe_ports(f));
                    }
                    if !maybe.is_empty() {
                        out.push_str(&format!(
                            "  ports that might be allowed (unknown): {maybe}\n"
                        ));
                    }
                }
                if let Some(reason) = short_reason(model, r) {
                    out.push_str(&format!("  {reason} (see: explain)\n"));
                }
            }
            (None, None) => {}
        }
    }
    if pairs.len() > 1 {
        let count = |v: Verdict| pairs.iter().filter(|p| p.verdict() == v).count();
        let ok = count(Verdict::Allowed);
        let unknown = match count(Verdict::Unknown) {
            0 => String::new(),
            n => format!(", {n} unknown"),
        };
        out.push_str(&format!(
            "{}: {ok} of {} pairs allowed{unknown}\n",
            verdict.as_str().to_ascii_uppercase(),
            pairs.len()
        ));
    }
    out
}
