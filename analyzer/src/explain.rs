//! Turns a [`Reach`] into the sentences `explain` prints: which policies isolate each
//! end, which rule, peer and port allowed the flow, or why none did.

use crate::reach::{AllowCheck, DirectionReach, FamilyReach, Flow, Reach};
use netfence_model::decision::DecidedBy;
use netfence_model::objects::Direction;
use netfence_model::tier::{Tier, TierAction};
use netfence_model::tiers::{TierPeerMatch, TierStackId, TierStage};
use netfence_model::Isolation;
use netfence_model::{Model, PeerRef, PortSet, Truth};

/// A direction's verdict for the flow: `allowed`, `denied` or `unknown`.
pub fn direction_verdict(flow: &Flow, d: &DirectionReach) -> &'static str {
    if flow.admitted_by(&d.allowed_ports) {
        "allowed"
    } else if flow.admitted_by(&d.unknown_ports) {
        "unknown"
    } else {
        "denied"
    }
}

/// The ports that both directions surely or maybe let through, less those surely
/// allowed: the ones whose outcome is unknown.
pub fn maybe_ports(f: &FamilyReach) -> PortSet {
    let mut egress = f.egress.allowed_ports.clone();
    egress.add(&f.egress.unknown_ports);
    let mut ingress = f.ingress.allowed_ports.clone();
    ingress.add(&f.ingress.unknown_ports);
    egress.intersection(&ingress).difference(&f.allowed_ports)
}

/// `port/PROTO`, `all TCP ports` or `any port` for the flow.
pub fn flow_ports(flow: &Flow) -> String {
    match (flow.effective_protocol(), flow.port) {
        (Some(p), Some(port)) => format!("{port}/{p}"),
        (Some(p), None) => format!("any {p} port"),
        (None, _) => "any port".to_string(),
    }
}

/// Where an allow element is written: `ns/policy ingress[0].from[1]`.
pub fn allow_origin(model: &Model, union: netfence_model::UnionId, check: &AllowCheck) -> String {
    let a = &model.union(union).allows[check.allow];
    let p = model.cluster.policy(a.policy);
    let (list, peers) = match a.direction {
        Direction::Ingress => ("ingress", "from"),
        Direction::Egress => ("egress", "to"),
    };
    match a.peer_index {
        Some(i) => format!("{} {list}[{}].{peers}[{i}]", p.key(), a.rule),
        None => format!("{} {list}[{}]", p.key(), a.rule),
    }
}

fn describe_peer(model: &Model, union: netfence_model::UnionId, check: &AllowCheck) -> String {
    let a = &model.union(union).allows[check.allow];
    match (a.peer, a.peer_index) {
        (PeerRef::Any, _) | (_, None) => "any peer".to_string(),
        (PeerRef::Peer(_), Some(i)) => {
            model.cluster.policy(a.policy).rules(a.direction)[a.rule].peers[i].to_string()
        }
    }
}

/// The ports a flow asks about, as a set.
pub fn flow_port_set(flow: &Flow) -> PortSet {
    match (flow.effective_protocol(), flow.port) {
        (Some(p), Some(port)) => PortSet::single(p, port),
        (Some(p), None) => PortSet::all_of(p),
        (None, _) => PortSet::all(),
    }
}

/// Where a tiered rule element is written: `cnp/name ingress rule "x" (Deny) from[1]`.
pub fn tier_origin(model: &Model, stack: TierStackId, element: usize) -> String {
    let el = &model.tiers.stack(stack).elements[element];
    let p = &model.cluster.tier_policies[el.policy.index()];
    let peers = match el.direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    format!(
        "{} {} rule {:?} ({}) {peers}[{}]",
        p.key(),
        el.direction,
        p.rule_label(el.direction, el.rule),
        el.action,
        el.peer_index
    )
}

fn tier_lines(
    model: &Model,
    flow: &Flow,
    head: &str,
    stack: TierStackId,
    stage: &TierStage,
    out: &mut Vec<String>,
) {
    let st = model.tiers.stack(stack);
    let names: Vec<String> = st
        .policies
        .iter()
        .map(|p| {
            let tp = &model.cluster.tier_policies[p.index()];
            format!("{} (priority {})", tp.key(), tp.priority)
        })
        .collect();
    out.push(format!("{head}: {} tier [{}]", st.tier, names.join(", ")));
    let probe = flow_port_set(flow);
    let mut decided = false;
    // A rule above that might match: the rules below decide only the worlds where it
    // does not.
    let mut maybe_above = false;
    for c in &stage.checks {
        let origin = tier_origin(model, stack, c.element);
        let el = &st.elements[c.element];
        let line = if decided {
            format!("  {origin}: not reached (decided above)")
        } else if c.peer_truth == Truth::Unknown && !c.ports.intersection(&probe).is_empty() {
            let verb = match el.action {
                TierAction::Accept => "accepts",
                TierAction::Deny => "denies",
                TierAction::Pass => "passes",
            };
            maybe_above = true;
            format!(
                "  MAYBE: {origin}: whether the peer matches is unknown: if it does, the rule {verb} these ports, if not, evaluation goes on"
            )
        } else if !c.peer_matched {
            match el.peer {
                TierPeerMatch::Nothing => {
                    format!("  {origin}: domainNames are not enforced: the peer matches nothing")
                }
                _ => format!("  {origin}: peer does not match"),
            }
        } else if c.ports.intersection(&probe).is_empty() {
            format!(
                "  {origin}: peer matches, port does not: it matches {}",
                c.ports
            )
        } else if maybe_above && c.decided.intersection(&probe).is_empty() {
            decided = c.ports.intersection(&probe) == probe;
            let verb = match el.action {
                TierAction::Accept => "ACCEPTS",
                TierAction::Deny => "DENIES",
                TierAction::Pass => "PASSES",
            };
            format!("  {verb} unless a rule above that might match does: {origin}")
        } else if c.decided.intersection(&probe).is_empty() {
            format!("  {origin}: matches, but earlier rules decided these ports")
        } else {
            decided = c.decided.intersection(&probe) == probe;
            match el.action {
                TierAction::Accept => format!("  ACCEPTS: {origin}"),
                TierAction::Deny => format!("  DENIES: {origin}"),
                TierAction::Pass if st.tier == Tier::Admin => {
                    format!("  PASSES: {origin}: evaluation goes on with NetworkPolicy")
                }
                TierAction::Pass => {
                    format!("  PASSES: {origin}: evaluation ends in the default allow")
                }
            }
        };
        out.push(line);
    }
}

fn direction_lines(model: &Model, flow: &Flow, d: &DirectionReach, out: &mut Vec<String>) {
    let who = d.subject.name(&model.cluster);
    let head = format!("{} of {who}", d.direction);
    if let Some((stack, stage)) = &d.decision.admin {
        tier_lines(model, flow, &head, *stack, stage, out);
        if d.decision.decided_by(&flow_port_set(flow)) == DecidedBy::Tier(Tier::Admin) {
            let verdict = direction_verdict(flow, d);
            out.push(format!(
                "{head}: {verdict} by the Admin tier; NetworkPolicy and the Baseline tier are not consulted"
            ));
            return;
        }
    }
    np_lines(model, flow, d, &head, out);
    if let Some((stack, stage)) = &d.decision.baseline {
        if d.decision.np_decided.is_empty() {
            tier_lines(model, flow, &head, *stack, stage, out);
        } else {
            out.push(format!(
                "{head}: the Baseline tier is not consulted: NetworkPolicy isolates the pod"
            ));
        }
    }
    if d.decision.admin.is_some() || d.decision.baseline.is_some() {
        let by = match d.decision.decided_by(&flow_port_set(flow)) {
            DecidedBy::Exception(_) => "an exception".to_string(),
            DecidedBy::Tier(t) => format!("the {t} tier"),
            DecidedBy::NetworkPolicy => "NetworkPolicy".to_string(),
            DecidedBy::Default => "the default (no tier decided)".to_string(),
        };
        let verdict = direction_verdict(flow, d);
        if verdict == "unknown" {
            out.push(format!("{head}: unknown (see the facts above)"));
        } else {
            out.push(format!("{head}: {verdict}, decided by {by}"));
        }
    }
}

fn np_lines(model: &Model, flow: &Flow, d: &DirectionReach, head: &str, out: &mut Vec<String>) {
    match d.outcome {
        Isolation::SelfTraffic => out.push(format!("{head}: a pod may always talk to itself")),
        Isolation::NotAPod => out.push(format!(
            "{head}: not a pod, no NetworkPolicy applies: allowed"
        )),
        Isolation::HostNetwork => out.push(format!(
            "{head}: hostNetwork pod, never isolated by NetworkPolicy: allowed"
        )),
        Isolation::NodeLocal => out.push(format!(
            "{head}: traffic from the pod's own node is always allowed"
        )),
        Isolation::Open if d.decision.baseline.is_some() || d.decision.admin.is_some() => {
            out.push(format!(
                "{head}: not isolated by NetworkPolicy (no policy selects it for {})",
                d.direction
            ))
        }
        Isolation::Open if direction_verdict(flow, d) == "unknown" => out.push(format!(
            "{head}: not isolated by NetworkPolicy (no policy selects it for {}); a tiered policy might select it: unknown (see the facts above)",
            d.direction
        )),
        Isolation::Open => out.push(format!(
            "{head}: not isolated (no policy selects it for {}): allowed",
            d.direction
        )),
        Isolation::Isolated(u) => {
            let union = model.union(u);
            let names = model.policy_keys(u);
            let verdict = direction_verdict(flow, d);
            out.push(format!(
                "{head}: isolated by [{}]: {verdict}",
                names.join(", ")
            ));
            for p in &union.policies {
                if model.cluster.policy(*p).rules(d.direction).is_empty() {
                    out.push(format!(
                        "  {} has no {} rules: it allows nothing",
                        model.cluster.policy(*p).key(),
                        d.direction
                    ));
                }
            }
            for c in &d.checks {
                let origin = allow_origin(model, u, c);
                let peer = describe_peer(model, u, c);
                let port_ok = flow.admitted_by(&c.ports);
                if c.peer_truth == Truth::Unknown {
                    out.push(if port_ok {
                        format!(
                            "  MAYBE: {origin} ({peer}; {}): {}",
                            c.ports,
                            c.peer_reason.clone().unwrap_or_default()
                        )
                    } else {
                        format!(
                            "  {origin}: port does not match: it allows {}, not {} (and whether the peer matches is unknown: {})",
                            c.ports,
                            flow_ports(flow),
                            c.peer_reason.clone().unwrap_or_default()
                        )
                    });
                    continue;
                }
                let line = match (c.peer_matched, port_ok) {
                    (true, true) => format!("  ALLOWS: {origin} ({peer}; {})", c.ports),
                    (true, false) => format!(
                        "  {origin}: peer matches ({peer}), port does not: it allows {}, not {}",
                        c.ports,
                        flow_ports(flow)
                    ),
                    (false, true) => format!(
                        "  {origin}: port matches, peer does not: {}",
                        c.peer_reason.clone().unwrap_or_default()
                    ),
                    (false, false) => format!(
                        "  {origin}: neither peer nor port matches: {}; it allows {}",
                        c.peer_reason.clone().unwrap_or_default(),
                        c.ports
                    ),
                };
                out.push(line);
                for n in &c.port_notes {
                    out.push(format!("    ({n})"));
                }
            }
        }
    }
}

fn family_lines(model: &Model, flow: &Flow, f: &FamilyReach) -> Vec<String> {
    let mut out = Vec::new();
    direction_lines(model, flow, &f.egress, &mut out);
    direction_lines(model, flow, &f.ingress, &mut out);
    if flow.port.is_none() {
        out.push(format!("allowed ports: {}", f.allowed_ports));
        let maybe = maybe_ports(f);
        if !maybe.is_empty() {
            out.push(format!("ports that might be allowed (unknown): {maybe}"));
        }
    }
    out
}

/// The full explanation, one line per fact.
pub fn render(model: &Model, r: &Reach) -> String {
    let cluster = &model.cluster;
    let mut lines = vec![format!(
        "{} -> {} on {}: {}",
        r.flow.from.name(cluster),
        r.flow.to.name(cluster),
        flow_ports(&r.flow),
        r.verdict.as_str().to_ascii_uppercase()
    )];
    if let Some(note) = &r.note {
        lines.push(format!("  {note}"));
    }
    for u in &r.unknowns {
        lines.push(format!("  unknown: {u}"));
    }
    let per_family: Vec<Vec<String>> = r
        .families
        .iter()
        .map(|f| family_lines(model, &r.flow, f))
        .collect();
    let all_same = per_family.windows(2).all(|w| w[0] == w[1]);
    for (f, fl) in r.families.iter().zip(&per_family) {
        let indent = if all_same || r.families.len() == 1 {
            "  "
        } else {
            lines.push(format!("  over {}: {}", f.family, f.verdict));
            "    "
        };
        lines.extend(fl.iter().map(|l| format!("{indent}{l}")));
        if all_same {
            break;
        }
    }
    lines.join("\n") + "\n"
}
