//! "Which policy dropped my packet?": packets dropped by a policy chain reach us through
//! NFLOG (rate-limited in the kernel); each is reported with names, not addresses, and
//! the reason, from the model that was enforced.

use crate::metrics::ErrorKind;
use crate::nflog::{LoggedPacket, NflogSocket};
use crate::state::{DropReport, Shared};
use netfence_analyzer::{reach, Flow, Party};
use netfence_model::decision::DirectionDecision;
use netfence_model::objects::Direction;
use netfence_model::tier::{Tier, TierAction};
use netfence_model::Isolation;
use netfence_model::PortSet;
use netfence_model::{Family, Model, Protocol};
use netfence_nft::render::parse_log_prefix;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Names a dropped packet: who, to whom, which direction's policies dropped it, why.
pub fn describe(model: &Model, p: &LoggedPacket) -> DropReport {
    let protocol = match p.protocol {
        6 => Some(Protocol::Tcp),
        17 => Some(Protocol::Udp),
        132 => Some(Protocol::Sctp),
        _ => None,
    };
    let direction = parse_log_prefix(&p.prefix).map_or(Direction::Egress, |(_, d)| d);
    let (from, to) = (
        Party::of_addr(&model.cluster, p.src),
        Party::of_addr(&model.cluster, p.dst),
    );
    let (from_name, to_name) = (from.name(&model.cluster), to.name(&model.cluster));
    let flow = Flow {
        from,
        to,
        protocol,
        port: p.dst_port,
        family: Some(Family::of(&p.src)),
    };
    let r = reach(model, flow);
    let side = r.families.first().map(|f| match direction {
        Direction::Ingress => &f.ingress,
        Direction::Egress => &f.egress,
    });
    let port = match (p.dst_port, protocol) {
        (Some(port), Some(proto)) => format!("{port}/{proto}"),
        (_, Some(proto)) => proto.to_string(),
        _ => format!("protocol {}", p.protocol),
    };
    let (subject, other) = match direction {
        Direction::Ingress => (&to_name, &from_name),
        Direction::Egress => (&from_name, &to_name),
    };
    let probe = match (protocol, p.dst_port) {
        (Some(proto), Some(port)) => PortSet::single(proto, port),
        _ => PortSet::all(),
    };
    // The stage that decided, as the enforced model says: a tiered Deny names its
    // policy, tier and rule; a NetworkPolicy drop names the isolating policies.
    let tier_rule = side.and_then(|d| denying_tier_rule(model, &d.decision, &probe));
    let (policies, message) = match tier_rule {
        Some((tier, policy, rule)) => (
            vec![policy.clone()],
            format!(
                "dropped {from_name} -> {to_name} {port}: {tier} tier {policy} rule {rule:?} denies {direction} of {subject} with {other}"
            ),
        ),
        None => {
            let policies: Vec<String> = match side.map(|d| d.outcome) {
                Some(Isolation::Isolated(u)) => model.policy_keys(u),
                _ => Vec::new(),
            };
            let message = format!(
                "dropped {from_name} -> {to_name} {port}: {subject} is isolated for {direction} by [{}], no rule allows {other}",
                policies.join(", ")
            );
            (policies, message)
        }
    };
    DropReport {
        unix_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        from: from_name,
        to: to_name,
        port: p.dst_port,
        protocol: protocol.map_or_else(|| p.protocol.to_string(), |p| p.to_string()),
        direction: direction.to_string(),
        policies,
        message,
    }
}

/// The tier, policy and rule of the tiered Deny that decided `probe`, if one did.
fn denying_tier_rule(
    model: &Model,
    decision: &DirectionDecision,
    probe: &PortSet,
) -> Option<(Tier, String, String)> {
    let (stack, element) = decision.deciding_tier_element(probe)?;
    let stack = model.tiers.stack(stack);
    let el = &stack.elements[element];
    if el.action != TierAction::Deny {
        return None;
    }
    let p = &model.cluster.tier_policies[el.policy.index()];
    Some((stack.tier, p.key(), p.rule_label(el.direction, el.rule)))
}

/// Reads NFLOG `group` (inside `netns` when given) on a thread of its own until the
/// process ends.
pub fn spawn(group: u16, netns: Option<String>, shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("nflog".into())
        .spawn(move || {
            if let Some(ns) = &netns {
                if let Err(e) = netfence_nft::thread_netns::enter(ns) {
                    tracing::error!(netns = ns, error = %e, "cannot enter the network namespace; drops are not reported");
                    shared.metrics.error(ErrorKind::Nflog);
                    return;
                }
            }
            let mut socket = match NflogSocket::open(group) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(group, error = %e, "cannot subscribe to NFLOG; drops are not reported");
                    shared.metrics.error(ErrorKind::Nflog);
                    return;
                }
            };
            let _ = socket.set_timeout(Some(Duration::from_secs(1)));
            loop {
                match socket.recv() {
                    Ok(packets) => {
                        let model = shared.enforced.model();
                        let Some(model) = model else { continue };
                        for p in packets
                            .iter()
                            .filter(|p| parse_log_prefix(&p.prefix).is_some())
                        {
                            let d = describe(&model, p);
                            tracing::warn!(
                                target: "netfence::drops",
                                from = %d.from, to = %d.to, policies = ?d.policies,
                                "{}", d.message
                            );
                            shared.enforced.record_drop(d);
                        }
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "reading NFLOG");
                        shared.metrics.error(ErrorKind::Nflog);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })
        .expect("spawning the NFLOG thread");
}
