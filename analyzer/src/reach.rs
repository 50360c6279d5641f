//! Can one party reach another: both directions evaluated over the compiled model, with
//! every element checked so that the answer can say exactly why.

use ipnet::IpNet;
use netfence_model::addr::Family;
use netfence_model::cluster::Endpoint;
use netfence_model::compile::PeerMatch;
use netfence_model::decision::DirectionDecision;
use netfence_model::objects::{Direction, Peer};
use netfence_model::{
    Allow, Isolation, LabelSelector, Model, Party, PeerRef, PortSet, Protocol, Truth,
};

/// A question: from, to, and optionally protocol, port and address family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Flow {
    pub from: Party,
    pub to: Party,
    /// None: any protocol (TCP when a port is given).
    pub protocol: Option<Protocol>,
    /// None: any port.
    pub port: Option<u16>,
    /// None: every address family the two ends share.
    pub family: Option<Family>,
}

/// The answer to a flow: allowed, denied, or unknown because it depends on what the
/// input does not show (a namespace's labels, a template pod's address).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Verdict {
    Allowed,
    Denied,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Unknown => "unknown",
        }
    }

    /// Combines the verdicts of alternatives of which any one lets the flow through
    /// (address families): allowed if one surely does, else unknown if one might.
    pub fn any_of(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut out = Verdict::Denied;
        for v in verdicts {
            match v {
                Verdict::Allowed => return Verdict::Allowed,
                Verdict::Unknown => out = Verdict::Unknown,
                Verdict::Denied => {}
            }
        }
        out
    }

    /// Combines the verdicts of flows that must all be allowed (every pair of a
    /// question): denied if one surely is not, else unknown if one might not be.
    pub fn all_of(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut out = Verdict::Allowed;
        for v in verdicts {
            match v {
                Verdict::Denied => return Verdict::Denied,
                Verdict::Unknown => out = Verdict::Unknown,
                Verdict::Allowed => {}
            }
        }
        out
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of the union checked against this flow.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AllowCheck {
    pub allow: usize,
    /// The peer surely matched.
    pub peer_matched: bool,
    /// Three-valued: Unknown when the match depends on what the input does not show.
    pub peer_truth: Truth,
    /// Why the peer did not match, for a person.
    pub peer_reason: Option<String>,
    /// The ports the element allows towards the destination.
    pub ports: PortSet,
    /// Why some named port did not resolve, for a person.
    pub port_notes: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DirectionReach {
    pub direction: Direction,
    /// Whose policy decides this direction (the source for egress, the destination for
    /// ingress).
    pub subject: Party,
    pub outcome: Isolation,
    /// Ports this direction surely lets through for this pair.
    pub allowed_ports: PortSet,
    /// Ports whose outcome in this direction is unknown.
    pub unknown_ports: PortSet,
    pub checks: Vec<AllowCheck>,
    /// The model's decision: which stage (exception, Admin tier, NetworkPolicy,
    /// Baseline tier, default) decided which ports.
    pub decision: DirectionDecision,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FamilyReach {
    pub family: Family,
    pub egress: DirectionReach,
    pub ingress: DirectionReach,
    /// Ports both directions surely let through.
    pub allowed_ports: PortSet,
    pub allowed: bool,
    pub verdict: Verdict,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reach {
    pub flow: Flow,
    /// Surely allowed over at least one address family the two ends share (false when
    /// the verdict is unknown).
    pub allowed: bool,
    /// Allowed, denied, or unknown (see `unknowns` for why).
    pub verdict: Verdict,
    /// The facts the flow's outcome hangs on, when it is unknown, for a person.
    pub unknowns: Vec<String>,
    pub families: Vec<FamilyReach>,
    /// Set when no family could be evaluated (e.g. an IPv4-only pod and an IPv6 address).
    pub note: Option<String>,
}

impl Flow {
    /// The protocol to check when a port is given without one.
    pub fn effective_protocol(&self) -> Option<Protocol> {
        match (self.protocol, self.port) {
            (Some(p), _) => Some(p),
            (None, Some(_)) => Some(Protocol::Tcp),
            (None, None) => None,
        }
    }

    /// Does `ports` let this flow through?
    pub fn admitted_by(&self, ports: &PortSet) -> bool {
        match (self.effective_protocol(), self.port) {
            (Some(p), Some(port)) => ports.contains(p, port),
            (Some(p), None) => !ports.protocol(p).is_empty(),
            (None, _) => !ports.is_empty(),
        }
    }
}

/// Evaluates a flow.
pub fn reach(model: &Model, flow: Flow) -> Reach {
    if flow.from == flow.to && flow.from.endpoint().is_some() {
        let family = flow.family.unwrap_or(Family::V4);
        let dir = |d| DirectionReach {
            direction: d,
            subject: flow.from,
            outcome: Isolation::SelfTraffic,
            allowed_ports: PortSet::all(),
            unknown_ports: PortSet::empty(),
            checks: Vec::new(),
            decision: model.decide(flow.from, d, flow.from, family),
        };
        return Reach {
            flow,
            allowed: true,
            verdict: Verdict::Allowed,
            unknowns: Vec::new(),
            families: vec![FamilyReach {
                family,
                egress: dir(Direction::Egress),
                ingress: dir(Direction::Ingress),
                allowed_ports: PortSet::all(),
                allowed: true,
                verdict: Verdict::Allowed,
            }],
            note: None,
        };
    }
    let families: Vec<Family> = match flow.family {
        Some(f) => vec![f],
        None => model.shared_families(flow.from, flow.to),
    };
    if families.is_empty() {
        return Reach {
            flow,
            allowed: false,
            verdict: Verdict::Denied,
            unknowns: Vec::new(),
            families: Vec::new(),
            note: Some(format!(
                "{} and {} share no address family",
                flow.from.name(&model.cluster),
                flow.to.name(&model.cluster)
            )),
        };
    }
    let families: Vec<FamilyReach> = families
        .into_iter()
        .map(|family| {
            let egress = direction(model, &flow, Direction::Egress, family);
            let ingress = direction(model, &flow, Direction::Ingress, family);
            let allowed_ports = egress.allowed_ports.intersection(&ingress.allowed_ports);
            let allowed = flow.admitted_by(&allowed_ports);
            // A port might pass when each direction surely or maybe lets it through.
            let possible = |d: &DirectionReach| {
                let mut p = d.allowed_ports.clone();
                p.add(&d.unknown_ports);
                p
            };
            let verdict = if allowed {
                Verdict::Allowed
            } else if flow.admitted_by(&possible(&egress).intersection(&possible(&ingress))) {
                Verdict::Unknown
            } else {
                Verdict::Denied
            };
            FamilyReach {
                family,
                egress,
                ingress,
                allowed_ports,
                allowed,
                verdict,
            }
        })
        .collect();
    let verdict = Verdict::any_of(families.iter().map(|f| f.verdict));
    let unknowns = if verdict == Verdict::Unknown {
        unknown_facts(&flow, &families)
    } else {
        Vec::new()
    };
    Reach {
        flow,
        allowed: verdict == Verdict::Allowed,
        verdict,
        unknowns,
        families,
        note: None,
    }
}

/// The facts that the flow's ports hang on, over the families whose verdict is
/// unknown, in order and without repeats.
fn unknown_facts(flow: &Flow, families: &[FamilyReach]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in families.iter().filter(|f| f.verdict == Verdict::Unknown) {
        for d in [&f.egress, &f.ingress] {
            for u in &d.decision.unknowns {
                let text = u.fact.to_string();
                if flow.admitted_by(&u.ports) && !out.contains(&text) {
                    out.push(text);
                }
            }
        }
    }
    out
}

fn direction(model: &Model, flow: &Flow, dir: Direction, family: Family) -> DirectionReach {
    let (subject, other) = match dir {
        Direction::Egress => (flow.from, flow.to),
        Direction::Ingress => (flow.to, flow.from),
    };
    let decision = model.decide(subject, dir, other, family);
    let mut checks = Vec::new();
    if let Isolation::Isolated(u) = decision.isolation {
        // Each element of the union, for the explanation; the verdict is the model's.
        let dst: Option<&Endpoint> = flow.to.endpoint().map(|e| model.cluster.endpoint(e));
        for (i, allow) in model.union(u).allows.iter().enumerate() {
            let (peer_truth, peer_reason) = peer_check(model, allow, other, family);
            checks.push(AllowCheck {
                allow: i,
                peer_matched: peer_truth.is_true(),
                peer_truth,
                peer_reason,
                ports: allow.ports_for(dst),
                port_notes: named_port_notes(model, allow, dst),
            });
        }
    }
    DirectionReach {
        direction: dir,
        subject,
        outcome: decision.isolation,
        allowed_ports: decision.allowed.clone(),
        unknown_ports: decision.unknown.clone(),
        checks,
        decision,
    }
}

fn named_port_notes(model: &Model, allow: &Allow, dst: Option<&Endpoint>) -> Vec<String> {
    let mut notes = Vec::new();
    for spec in &allow.ports {
        if let netfence_model::PortSpec::Named { protocol, name } = spec {
            match dst {
                None => notes.push(format!(
                    "named port {name}/{protocol} never matches an address outside the cluster"
                )),
                Some(d) if !d.on_pod_network() => notes.push(format!(
                    "named port {name}/{protocol} never matches {}: a hostNetwork pod is its node",
                    model.cluster.endpoint_name(d.id)
                )),
                Some(d) if d.named_port(name, *protocol).is_none() => {
                    let other: Vec<String> = d
                        .named_ports(name)
                        .map(|p| format!("{}/{}", p.port, p.protocol))
                        .collect();
                    let dname = model.cluster.endpoint_name(d.id);
                    notes.push(if other.is_empty() {
                        format!("{dname} has no container port named {name}")
                    } else {
                        format!(
                            "{dname} names {} as {name}, not {protocol}",
                            other.join(", ")
                        )
                    });
                }
                _ => {}
            }
        }
    }
    notes
}

/// Does the allow's peer admit `other` (the model's three-valued answer)? If not, or
/// if that is unknown, why.
fn peer_check(
    model: &Model,
    allow: &Allow,
    other: Party,
    family: Family,
) -> (Truth, Option<String>) {
    let cluster = &model.cluster;
    let PeerRef::Peer(pid) = allow.peer else {
        return (Truth::True, None);
    };
    let policy = cluster.policy(allow.policy);
    let spec = &policy.rules(allow.direction)[allow.rule].peers[allow.peer_index.unwrap_or(0)];
    let truth = match other {
        Party::Endpoint(e) => model.peer_truth_endpoint(allow.peer, cluster.endpoint(e), family),
        Party::External(_) => Truth::from(model.peer_admits(allow.peer, other, family)),
    };
    match (truth, other) {
        (Truth::True, _) => return (Truth::True, None),
        (Truth::Unknown, Party::Endpoint(e)) => {
            let fact = model.peer_unknown_fact(pid, allow.policy, cluster.endpoint(e));
            return (Truth::Unknown, Some(fact.to_string()));
        }
        _ => {}
    }
    let reason = match (spec, model.peer(pid), other) {
        (Peer::Selectors { .. }, _, Party::External(net)) => {
            format!(
                "{} is not a pod; pod and namespace selectors only match pods",
                show(&net)
            )
        }
        (Peer::Selectors { namespace, pod }, _, Party::Endpoint(e)) => {
            let e = cluster.endpoint(e);
            let ename = cluster.endpoint_name(e.id);
            let ns = cluster.namespace(e.namespace);
            if !e.on_pod_network() {
                format!("{ename} is a hostNetwork pod: selectors never match it (it is its node)")
            } else {
                match namespace {
                    None if ns.name != policy.meta.namespace => format!(
                        "a podSelector without namespaceSelector selects pods of namespace {} only; {ename} is in {}",
                        policy.meta.namespace, ns.name
                    ),
                    Some(nsel) if !nsel.matches(&ns.labels) => format!(
                        "namespaceSelector {nsel} does not match namespace {}{}",
                        ns.name,
                        why(nsel, &ns.labels)
                    ),
                    _ => match pod {
                        Some(psel) => format!(
                            "podSelector {psel} does not match {ename}{}",
                            why(psel, &e.labels)
                        ),
                        None => format!("{ename} is not selected"),
                    },
                }
            }
        }
        (_, PeerMatch::Addrs(block), Party::Endpoint(e)) => {
            let e = cluster.endpoint(e);
            let ename = cluster.endpoint_name(e.id);
            let addrs: Vec<_> = e.addrs.iter().filter(|a| Family::of(a) == family).collect();
            if e.addrs.is_empty() && !model.cluster.pod_networks.is_empty() {
                {
                    let nets: Vec<String> = netfence_model::compile::pod_networks_of(
                        &model.cluster.pod_networks,
                        family,
                    )
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                    format!(
                        "{ename} has no known address, and the pod network {} is outside ipBlock {block}",
                        nets.join(", ")
                    )
                }
            } else if e.addrs.is_empty() {
                format!(
                    "{ename} has no known address; ipBlock {block} does not cover every {family} address it could get"
                )
            } else if addrs.is_empty() {
                format!("{ename} has no {family} address")
            } else {
                addr_reason(
                    block,
                    &addrs.iter().map(|a| IpNet::from(**a)).collect::<Vec<_>>(),
                )
            }
        }
        (_, PeerMatch::Addrs(block), Party::External(net)) => addr_reason(block, &[net]),
        (Peer::Block(_), PeerMatch::Endpoints(_), _) => "peer does not match".to_string(),
    };
    (Truth::False, Some(reason))
}

/// The failing requirement, unless the selector has only that one (already printed).
fn why(sel: &LabelSelector, labels: &netfence_model::Labels) -> String {
    let Some(m) = sel.mismatch(labels) else {
        return String::new();
    };
    match m.strip_prefix(&sel.to_string()) {
        Some(rest) => format!(" {}", rest.trim()),
        None => format!(": {m}"),
    }
}

fn addr_reason(block: &netfence_model::IpBlock, nets: &[IpNet]) -> String {
    let net = nets[0];
    if netfence_model::Family::of_net(&net) != block.family() {
        return format!("{} is not an {} address", show(&net), block.family());
    }
    if let Some(ex) = block.except.iter().find(|x| x.contains(&net.addr())) {
        return format!("{} is in except {ex} of ipBlock {}", show(&net), block.cidr);
    }
    if block.addrs.overlaps_net(&net) {
        return format!("{net} is only partly inside ipBlock {block}");
    }
    format!("{} is outside ipBlock {}", show(&net), block.cidr)
}

fn show(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}
