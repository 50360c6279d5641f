//! The JSON document of `can-reach -o json` (a contract: fields may be added, never
//! renamed).

use crate::args::CanReachArgs;
use crate::cmd::can_reach::{allowed_ports, Pair};
use netfence_analyzer::explain;
use netfence_analyzer::reach::DirectionReach;
use netfence_analyzer::Verdict;
use netfence_model::ports::PortRef;
use netfence_model::Isolation;
use netfence_model::{Model, Protocol};
use serde_json::{json, Value};

fn outcome(o: &Isolation) -> &'static str {
    match o {
        Isolation::SelfTraffic => "self",
        Isolation::NotAPod => "not-a-pod",
        Isolation::HostNetwork => "host-network",
        Isolation::NodeLocal => "node-local",
        Isolation::Open => "not-isolated",
        Isolation::Isolated(_) => "isolated",
    }
}

fn direction(model: &Model, r: &netfence_analyzer::Reach, d: &DirectionReach) -> Value {
    let (policies, allowed_by) = match d.outcome {
        Isolation::Isolated(u) => {
            let policies = model.policy_keys(u);
            let by: Vec<String> = d
                .checks
                .iter()
                .filter(|c| c.peer_matched && r.flow.admitted_by(&c.ports))
                .map(|c| explain::allow_origin(model, u, c))
                .collect();
            (policies, by)
        }
        _ => (Vec::new(), Vec::new()),
    };
    json!({
        "subject": d.subject.name(&model.cluster),
        "outcome": outcome(&d.outcome),
        "allowed": r.flow.admitted_by(&d.allowed_ports),
        "verdict": explain::direction_verdict(&r.flow, d),
        "policies": policies,
        "allowed_by": allowed_by,
    })
}

fn port_value(p: Option<&PortRef>) -> Value {
    match p {
        None => Value::Null,
        Some(PortRef::Number(n)) => json!(n),
        Some(PortRef::Name(s)) => json!(s),
    }
}

pub fn document(
    model: &Model,
    args: &CanReachArgs,
    port: Option<&PortRef>,
    protocol: Option<Protocol>,
    verdict: Verdict,
    pairs: &[Pair],
) -> Value {
    let protocol = protocol.or(port.map(|_| Protocol::Tcp));
    let pairs: Vec<Value> = pairs
        .iter()
        .map(|p| {
            let to = p.to.map(|t| t.name(&model.cluster));
            match &p.reach {
                None => json!({
                    "from": p.from.name(&model.cluster),
                    "to": to,
                    "service": p.service,
                    "allowed": false,
                    "verdict": Verdict::Denied.as_str(),
                    "note": p.note,
                }),
                Some(r) => {
                    let families: Vec<Value> = r
                        .families
                        .iter()
                        .map(|f| {
                            json!({
                                "family": f.family.to_string(),
                                "allowed": f.allowed,
                                "verdict": f.verdict.as_str(),
                                "allowed_ports": f.allowed_ports.to_string(),
                                "egress": direction(model, r, &f.egress),
                                "ingress": direction(model, r, &f.ingress),
                            })
                        })
                        .collect();
                    json!({
                        "from": p.from.name(&model.cluster),
                        "to": to,
                        "service": p.service,
                        "port": r.flow.port,
                        "protocol": r.flow.effective_protocol().map(|p| p.as_str()),
                        "allowed": r.allowed,
                        "verdict": r.verdict.as_str(),
                        "unknowns": r.unknowns,
                        "allowed_ports": allowed_ports(r).to_string(),
                        "families": families,
                        "note": r.note,
                        "explanation": explain::render(model, r),
                    })
                }
            }
        })
        .collect();
    json!({
        "from": args.from,
        "to": args.to,
        "port": port_value(port),
        "protocol": protocol.map(|p| p.as_str()),
        "allowed": verdict == Verdict::Allowed,
        "verdict": verdict.as_str(),
        "pairs": pairs,
    })
}
