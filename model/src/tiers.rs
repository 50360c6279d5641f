//! Compilation of the tiered policies: for every endpoint and direction, the ordered
//! rules of the Admin tier and of the Baseline tier whose subject selects it, with peers
//! resolved to endpoint or address sets and provenance on every element. Endpoints with
//! the same policies in a tier and direction share one [`TierStack`], as they share a
//! [`crate::PolicyUnion`] for NetworkPolicy.
//!
//! Order inside a tier: priority (lower first), then, for equal priorities (undefined
//! upstream), the policy's name in byte order, then its kind (ClusterNetworkPolicy,
//! AdminNetworkPolicy, BaselineAdminNetworkPolicy); inside a policy, rule order.

use crate::addr::{AddrSet, Family};
use crate::bitset::EndpointSet;
use crate::cluster::{Cluster, Endpoint, EndpointId};
use crate::compile::LabelIndex;
use crate::objects::Direction;
use crate::party::Party;
use crate::ports::PortSet;
use crate::selector::LabelSelector;
use crate::tier::{Tier, TierAction, TierPeer, TierPolicy, TierPort, TierSubject};
use crate::truth::Truth;
use crate::unknown::{record, Unknown, UnknownFact};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TierPolicyId(pub u32);

impl TierPolicyId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TierStackId(pub u32);

/// A resolved tiered peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TierPeerMatch {
    /// Pods chosen by `namespaces` or `pods` (never hostNetwork pods). Shared: every
    /// stack holding the peer's policy holds the same set.
    Endpoints(Arc<EndpointSet>),
    /// `networks`, or the addresses of the nodes a `nodes` selector matches: matched
    /// against every address, pod and node addresses included.
    Addrs(AddrSet),
    /// `domainNames`: not enforced, so the peer matches nothing (fail closed for the
    /// Accept rules it is allowed in).
    Nothing,
}

/// One (rule, peer) of a tiered policy, in evaluation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierElement {
    pub policy: TierPolicyId,
    pub direction: Direction,
    /// Index of the rule in the policy's ingress or egress list.
    pub rule: usize,
    /// Index of the peer in the rule's from/to list.
    pub peer_index: usize,
    pub action: TierAction,
    pub peer: TierPeerMatch,
    /// None: every port of every protocol.
    pub ports: Option<Vec<TierPort>>,
}

/// The ordered rules of one tier that apply to a group of endpoints in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierStack {
    pub id: TierStackId,
    pub tier: Tier,
    pub direction: Direction,
    /// The policies whose subject selects the members, in evaluation order.
    pub policies: Vec<TierPolicyId>,
    pub elements: Vec<TierElement>,
    pub members: Vec<EndpointId>,
}

/// The compiled tiers of a model.
#[derive(Clone, Debug, Default)]
pub struct Tiers {
    pub stacks: Vec<TierStack>,
    /// `stack_of[tier][direction][endpoint]`: tier 0 Admin, 1 Baseline; direction 0
    /// ingress, 1 egress.
    stack_of: [[Vec<Option<TierStackId>>; 2]; 2],
}

fn tier_index(t: Tier) -> usize {
    match t {
        Tier::Admin => 0,
        Tier::Baseline => 1,
    }
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// The evaluation order of the policies of one tier (see the module docs).
pub fn tier_order(cluster: &Cluster, tier: Tier) -> Vec<TierPolicyId> {
    let mut ids: Vec<TierPolicyId> = (0..cluster.tier_policies.len())
        .map(|i| TierPolicyId(i as u32))
        .filter(|p| cluster.tier_policies[p.index()].tier == tier)
        .collect();
    ids.sort_by(|a, b| {
        let (a, b) = (
            &cluster.tier_policies[a.index()],
            &cluster.tier_policies[b.index()],
        );
        (a.priority, &a.name, a.kind).cmp(&(b.priority, &b.name, b.kind))
    });
    ids
}

/// Pods (off the host network) of the namespaces `ns` matches whose labels `pods`
/// matches (every pod of them when None); through the label index when there is one
/// (compile: every policy of the cluster), else label by label (one question).
fn select_pods(
    cluster: &Cluster,
    index: Option<&LabelIndex>,
    ns: &LabelSelector,
    pods: Option<&LabelSelector>,
) -> EndpointSet {
    // Only sure matches: an unknown one is the decision's to name.
    let ns_ok: Vec<bool> = (0..cluster.namespaces.len())
        .map(|i| {
            cluster
                .namespace_truth(ns, crate::cluster::NamespaceId(i as u32))
                .is_true()
        })
        .collect();
    let mut s = EndpointSet::empty(cluster.endpoints.len());
    if let Some(index) = index {
        for (i, _) in ns_ok.iter().enumerate().filter(|(_, ok)| **ok) {
            s.union_with(&index.by_ns[i]);
        }
        return match pods {
            Some(p) => index.select(p, &s),
            None => s,
        };
    }
    for e in &cluster.endpoints {
        if e.on_pod_network()
            && ns_ok[e.namespace.index()]
            && pods.is_none_or(|p| p.matches(&e.labels))
        {
            s.insert(e.id.index());
        }
    }
    s
}

/// The pods a tiered policy's subject selects (never hostNetwork pods).
pub fn subject_set(cluster: &Cluster, subject: &TierSubject) -> EndpointSet {
    subject_in(cluster, None, subject)
}

fn subject_in(cluster: &Cluster, index: Option<&LabelIndex>, subject: &TierSubject) -> EndpointSet {
    match subject {
        TierSubject::Namespaces(ns) => select_pods(cluster, index, ns, None),
        TierSubject::Pods { namespaces, pods } => {
            select_pods(cluster, index, namespaces, Some(pods))
        }
    }
}

/// A tiered peer resolved over the cluster (what the stacks' elements hold).
pub fn peer_match(cluster: &Cluster, peer: &TierPeer) -> TierPeerMatch {
    peer_in(cluster, None, peer)
}

fn peer_in(cluster: &Cluster, index: Option<&LabelIndex>, peer: &TierPeer) -> TierPeerMatch {
    let pods = |ns, pods| TierPeerMatch::Endpoints(Arc::new(select_pods(cluster, index, ns, pods)));
    match peer {
        TierPeer::Namespaces(ns) => pods(ns, None),
        TierPeer::Pods {
            namespaces,
            pods: p,
        } => pods(namespaces, Some(p)),
        TierPeer::Networks(nets) => {
            let mut set = AddrSet::empty();
            for n in nets {
                set = set.union(&AddrSet::from_net(n));
            }
            TierPeerMatch::Addrs(set)
        }
        TierPeer::Nodes(sel) => {
            let mut set = AddrSet::empty();
            for node in cluster.nodes.iter().filter(|n| sel.matches(&n.labels)) {
                for a in &node.addrs {
                    set = set.union(&AddrSet::from_net(&(*a).into()));
                }
            }
            TierPeerMatch::Addrs(set)
        }
        TierPeer::DomainNames(_) => TierPeerMatch::Nothing,
    }
}

impl Tiers {
    pub fn compile(cluster: &Cluster) -> Tiers {
        Tiers::compile_indexed(cluster, &LabelIndex::new(cluster))
    }

    /// [`Tiers::compile`] with the label index `Model::compile` has built already.
    pub(crate) fn compile_indexed(cluster: &Cluster, index: &LabelIndex) -> Tiers {
        let n = cluster.endpoints.len();
        let mut tiers = Tiers {
            stacks: Vec::new(),
            stack_of: [
                [vec![None; n], vec![None; n]],
                [vec![None; n], vec![None; n]],
            ],
        };
        if cluster.tier_policies.is_empty() {
            return tiers;
        }
        let subjects: Vec<EndpointSet> = cluster
            .tier_policies
            .iter()
            .map(|p| subject_in(cluster, Some(index), &p.subject))
            .collect();
        // Elements per (policy, direction), resolved once.
        let mut elements: HashMap<(TierPolicyId, Direction), Vec<TierElement>> = HashMap::new();
        for (pi, p) in cluster.tier_policies.iter().enumerate() {
            for d in Direction::BOTH {
                let mut out = Vec::new();
                for (ri, rule) in p.rules(d).iter().enumerate() {
                    for (xi, peer) in rule.peers.iter().enumerate() {
                        out.push(TierElement {
                            policy: TierPolicyId(pi as u32),
                            direction: d,
                            rule: ri,
                            peer_index: xi,
                            action: rule.action,
                            peer: peer_in(cluster, Some(index), peer),
                            ports: rule.ports.clone(),
                        });
                    }
                }
                elements.insert((TierPolicyId(pi as u32), d), out);
            }
        }
        let mut ids: HashMap<(Tier, Direction, Vec<TierPolicyId>), TierStackId> = HashMap::new();
        for tier in [Tier::Admin, Tier::Baseline] {
            let order = tier_order(cluster, tier);
            for d in Direction::BOTH {
                // A policy without rules in a direction does not affect it.
                let order: Vec<TierPolicyId> = order
                    .iter()
                    .copied()
                    .filter(|p| !cluster.tier_policies[p.index()].rules(d).is_empty())
                    .collect();
                for e in 0..n {
                    let policies: Vec<TierPolicyId> = order
                        .iter()
                        .copied()
                        .filter(|p| subjects[p.index()].contains(e))
                        .collect();
                    if policies.is_empty() {
                        continue;
                    }
                    let key = (tier, d, policies);
                    let id = match ids.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id = TierStackId(tiers.stacks.len() as u32);
                            let elems = key
                                .2
                                .iter()
                                .flat_map(|p| elements[&(*p, d)].iter().cloned())
                                .collect();
                            tiers.stacks.push(TierStack {
                                id,
                                tier,
                                direction: d,
                                policies: key.2.clone(),
                                elements: elems,
                                members: Vec::new(),
                            });
                            ids.insert(key, id);
                            id
                        }
                    };
                    tiers.stacks[id.0 as usize]
                        .members
                        .push(EndpointId(e as u32));
                    tiers.stack_of[tier_index(tier)][dir_index(d)][e] = Some(id);
                }
            }
        }
        tiers
    }

    pub fn stack(&self, id: TierStackId) -> &TierStack {
        &self.stacks[id.0 as usize]
    }

    /// The stack of `tier` applying to `e` in direction `d`, if any.
    pub fn stack_of(&self, e: EndpointId, tier: Tier, d: Direction) -> Option<&TierStack> {
        self.stack_of[tier_index(tier)][dir_index(d)]
            .get(e.index())
            .copied()
            .flatten()
            .map(|id| self.stack(id))
    }

    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }
}

impl TierPeerMatch {
    /// Does the peer match `other` over `family`? Addresses match pod addresses and the
    /// node addresses a hostNetwork pod holds as well as anything outside; an endpoint
    /// whose address is not known yet matches only a set covering the whole family.
    pub fn admits(&self, cluster: &Cluster, other: Party, family: Family) -> bool {
        match (self, other) {
            (TierPeerMatch::Nothing, _) => false,
            (TierPeerMatch::Endpoints(set), Party::Endpoint(e)) => set.contains(e.index()),
            (TierPeerMatch::Endpoints(_), Party::External(_)) => false,
            (TierPeerMatch::Addrs(addrs), Party::Endpoint(e)) => {
                let e = cluster.endpoint(e);
                if e.addrs.is_empty() {
                    crate::compile::addrs_truth(addrs, e, family, &cluster.pod_networks).is_true()
                } else {
                    e.addrs
                        .iter()
                        .any(|a| Family::of(a) == family && addrs.contains(a))
                }
            }
            (TierPeerMatch::Addrs(addrs), Party::External(net)) => addrs.contains_net(&net),
        }
    }
}

/// The ports a tiered rule's port list matches towards `dst`: every port when None; a
/// named port resolves on the destination pod to each container port of that name
/// (its number and protocol together), never on a hostNetwork pod or an address.
pub fn tier_ports(ports: Option<&[TierPort]>, dst: Option<&Endpoint>) -> PortSet {
    let Some(ports) = ports else {
        return PortSet::all();
    };
    let mut set = PortSet::empty();
    for p in ports {
        match p {
            TierPort::Range {
                protocol,
                start,
                end,
            } => set.add_range(*protocol, *start, *end),
            TierPort::Named(name) => {
                if let Some(d) = dst.filter(|d| d.on_pod_network()) {
                    for cp in d.named_ports(name) {
                        set.add_range(cp.protocol, cp.port, cp.port);
                    }
                }
            }
        }
    }
    set
}

/// What one tier did to the ports still undecided when it was reached.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TierStage {
    pub accepted: PortSet,
    pub denied: PortSet,
    pub passed: PortSet,
    /// Ports whose first possibly matching rule might or might not match (three-valued
    /// evaluation only): their outcome is unknown.
    pub unknown: PortSet,
    /// Per element of the stack, in order: did its peer match, and which of the
    /// undecided ports it decided.
    pub checks: Vec<TierCheck>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierCheck {
    pub element: usize,
    /// The peer surely matched (see `peer_truth` for an unknown one).
    pub peer_matched: bool,
    /// Three-valued: Unknown when the match depends on facts the input does not show.
    pub peer_truth: Truth,
    /// The element's ports towards the destination.
    pub ports: PortSet,
    /// The ports this element decided (its ports that no earlier element had).
    pub decided: PortSet,
}

impl TierStack {
    /// Runs the stack's rules in order over the `undecided` ports of a connection with
    /// `other` (the source for ingress, the destination for egress); `dst` is the
    /// destination pod, for named ports.
    pub fn evaluate(
        &self,
        cluster: &Cluster,
        other: Party,
        family: Family,
        dst: Option<&Endpoint>,
        undecided: &PortSet,
    ) -> TierStage {
        let mut left = undecided.clone();
        let mut stage = TierStage::default();
        for (i, el) in self.elements.iter().enumerate() {
            let peer_matched = el.peer.admits(cluster, other, family);
            let ports = tier_ports(el.ports.as_deref(), dst);
            let decided = if peer_matched {
                ports.intersection(&left)
            } else {
                PortSet::empty()
            };
            if !decided.is_empty() {
                match el.action {
                    TierAction::Accept => stage.accepted.add(&decided),
                    TierAction::Deny => stage.denied.add(&decided),
                    TierAction::Pass => stage.passed.add(&decided),
                }
                left = left.difference(&decided);
            }
            stage.checks.push(TierCheck {
                element: i,
                peer_matched,
                peer_truth: Truth::from(peer_matched),
                ports,
                decided,
            });
        }
        stage
    }
}

/// The display key of a tiered policy (`cnp/name`).
pub fn policy_key(cluster: &Cluster, p: TierPolicyId) -> String {
    cluster.tier_policies[p.index()].key()
}

impl TierPolicy {
    /// The rule's name, or its position when unnamed (`ingress[2]`).
    pub fn rule_label(&self, d: Direction, rule: usize) -> String {
        let name = &self.rules(d)[rule].name;
        if name.is_empty() {
            format!("{d}[{rule}]")
        } else {
            name.clone()
        }
    }
}

impl TierPeerMatch {
    /// Three-valued [`TierPeerMatch::admits`]; `def` is the peer it was resolved from.
    pub fn truth(&self, cluster: &Cluster, def: &TierPeer, other: Party, family: Family) -> Truth {
        match (self, other) {
            (TierPeerMatch::Endpoints(set), Party::Endpoint(e)) if !set.contains(e.index()) => {
                let e = cluster.endpoint(e);
                if !e.on_pod_network() || cluster.labels_known(e.namespace) {
                    return Truth::False;
                }
                match def {
                    TierPeer::Namespaces(ns) => cluster.namespace_truth(ns, e.namespace),
                    TierPeer::Pods { namespaces, pods } => cluster
                        .namespace_truth(namespaces, e.namespace)
                        .and(Truth::from(pods.matches(&e.labels))),
                    _ => Truth::False,
                }
            }
            (TierPeerMatch::Addrs(addrs), Party::Endpoint(e)) => crate::compile::addrs_truth(
                addrs,
                cluster.endpoint(e),
                family,
                &cluster.pod_networks,
            ),
            _ => Truth::from(self.admits(cluster, other, family)),
        }
    }
}

/// Three-valued: does a tiered policy's subject select `e`?
pub fn subject_truth(cluster: &Cluster, subject: &TierSubject, e: &Endpoint) -> Truth {
    if !e.on_pod_network() {
        return Truth::False;
    }
    match subject {
        TierSubject::Namespaces(ns) => cluster.namespace_truth(ns, e.namespace),
        TierSubject::Pods { namespaces, pods } => cluster
            .namespace_truth(namespaces, e.namespace)
            .and(Truth::from(pods.matches(&e.labels))),
    }
}

/// The fact that leaves a tiered selector or address peer undecided for `e`.
fn tier_fact(
    cluster: &Cluster,
    policy: TierPolicyId,
    what: String,
    e: &Endpoint,
    addrs: bool,
    family: Family,
) -> UnknownFact {
    let policy = policy_key(cluster, policy);
    if addrs {
        UnknownFact::Address {
            endpoint: cluster.endpoint_name(e.id),
            peer: what,
            policy,
            pod_networks: crate::compile::pod_networks_of(&cluster.pod_networks, family),
        }
    } else {
        UnknownFact::NamespaceLabels {
            namespace: cluster.namespace(e.namespace).name.clone(),
            selector: what,
            policy,
        }
    }
}

fn peer_words(peer: &TierPeer) -> String {
    match peer {
        TierPeer::Namespaces(ns) => format!("namespaces selector {ns}"),
        TierPeer::Pods { namespaces, .. } => format!("pods.namespaceSelector {namespaces}"),
        TierPeer::Networks(nets) => {
            let n: Vec<String> = nets.iter().map(ToString::to_string).collect();
            format!("networks {}", n.join(","))
        }
        TierPeer::Nodes(sel) => format!("nodes {sel}"),
        TierPeer::DomainNames(_) => "domainNames".into(),
    }
}

fn subject_words(subject: &TierSubject) -> String {
    match subject {
        TierSubject::Namespaces(ns) => format!("subject namespaces selector {ns}"),
        TierSubject::Pods { namespaces, .. } => {
            format!("subject pods.namespaceSelector {namespaces}")
        }
    }
}

/// A tier's three-valued evaluation for one subject and connection. A rule that might
/// match forks the walk: the port may be decided there, or go on. `may_*` hold the
/// ports for which each end of the tier is possible in some world; the stage holds the
/// ends that are sure (possible in every world) and, as `unknown`, the ports with more
/// than one possible end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriStage {
    pub stage: TierStage,
    pub may_accept: PortSet,
    pub may_deny: PortSet,
    pub may_pass: PortSet,
    /// Ports that may reach the end of the tier with no rule matching them.
    pub may_fall_through: PortSet,
    pub unknowns: Vec<Unknown>,
}

impl Tiers {
    /// Runs `tier` for `subject` in direction `d` over the `undecided` ports, three-valued:
    /// the rules of the subject's stack (`stack`), and, when the subject's namespace is
    /// only referenced, those of the policies whose subject might select it. In order,
    /// the first rule that matches a port decides it; a rule that might match decides it
    /// in some worlds and lets it go on in others (see [`TriStage`]). The stage's checks
    /// are the stack's elements. None: no policy of the tier applies, surely or maybe.
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate_tri(
        &self,
        cluster: &Cluster,
        tier: Tier,
        d: Direction,
        subject: &Endpoint,
        other: Party,
        family: Family,
        dst: Option<&Endpoint>,
        undecided: &PortSet,
    ) -> Option<TriStage> {
        let stack = self.stack_of(subject.id, tier, d);
        let maybe_subjects = !cluster.labels_known(subject.namespace);
        if stack.is_none() && !maybe_subjects {
            return None;
        }
        // Ports that reach the current rule in some world, and in every world.
        let mut reach = undecided.clone();
        let mut sure_reach = undecided.clone();
        let (mut may_accept, mut may_deny, mut may_pass) =
            (PortSet::empty(), PortSet::empty(), PortSet::empty());
        let mut stage = TierStage::default();
        let mut unknowns = Vec::new();
        let mut any = stack.is_some();
        let in_stack = |p: TierPolicyId| stack.is_some_and(|s| s.policies.contains(&p));
        for p in tier_order(cluster, tier) {
            let policy = &cluster.tier_policies[p.index()];
            if policy.rules(d).is_empty() {
                continue;
            }
            let (subj, elements): (Truth, Vec<(Option<usize>, TierElement)>) = if in_stack(p) {
                let st = stack.expect("in the stack");
                let els = st
                    .elements
                    .iter()
                    .enumerate()
                    .filter(|(_, el)| el.policy == p)
                    .map(|(i, el)| (Some(i), el.clone()))
                    .collect();
                (Truth::True, els)
            } else if maybe_subjects
                && subject_truth(cluster, &policy.subject, subject) == Truth::Unknown
            {
                any = true;
                let mut els = Vec::new();
                for (ri, rule) in policy.rules(d).iter().enumerate() {
                    for (xi, peer) in rule.peers.iter().enumerate() {
                        els.push((
                            None,
                            TierElement {
                                policy: p,
                                direction: d,
                                rule: ri,
                                peer_index: xi,
                                action: rule.action,
                                peer: peer_match(cluster, peer),
                                ports: rule.ports.clone(),
                            },
                        ));
                    }
                }
                (Truth::Unknown, els)
            } else {
                continue;
            };
            for (index, el) in elements {
                let def = &policy.rules(d)[el.rule].peers[el.peer_index];
                let peer_truth = el.peer.truth(cluster, def, other, family);
                let ports = tier_ports(el.ports.as_deref(), dst);
                let truth = subj.and(peer_truth);
                let touched = ports.intersection(&reach);
                if truth.is_possible() && !touched.is_empty() {
                    match el.action {
                        TierAction::Accept => may_accept.add(&touched),
                        TierAction::Deny => may_deny.add(&touched),
                        TierAction::Pass => may_pass.add(&touched),
                    }
                }
                let decided = if truth.is_true() {
                    ports.intersection(&sure_reach)
                } else {
                    PortSet::empty()
                };
                match truth {
                    Truth::True => reach = reach.difference(&ports),
                    Truth::Unknown if !touched.is_empty() => {
                        if subj == Truth::Unknown {
                            let fact = tier_fact(
                                cluster,
                                p,
                                subject_words(&policy.subject),
                                subject,
                                false,
                                family,
                            );
                            record(&mut unknowns, fact, &touched);
                        }
                        if peer_truth == Truth::Unknown {
                            if let Party::Endpoint(o) = other {
                                let addrs = matches!(el.peer, TierPeerMatch::Addrs(_));
                                let fact = tier_fact(
                                    cluster,
                                    p,
                                    peer_words(def),
                                    cluster.endpoint(o),
                                    addrs,
                                    family,
                                );
                                record(&mut unknowns, fact, &touched);
                            }
                        }
                    }
                    _ => {}
                }
                if truth.is_possible() {
                    sure_reach = sure_reach.difference(&ports);
                }
                if let Some(i) = index {
                    stage.checks.push(TierCheck {
                        element: i,
                        peer_matched: peer_truth.is_true(),
                        peer_truth,
                        ports,
                        decided,
                    });
                }
            }
        }
        // An end is sure where no other end is possible; elsewhere the tier's end is
        // unknown (the next stage may still make the whole decision agree).
        let fall = reach;
        let ends = [&may_accept, &may_deny, &may_pass, &fall];
        let only = |i: usize| {
            let mut others = PortSet::empty();
            for (j, e) in ends.iter().enumerate() {
                if j != i {
                    others.add(e);
                }
            }
            ends[i].difference(&others)
        };
        stage.accepted = only(0);
        stage.denied = only(1);
        stage.passed = only(2);
        let mut possible = PortSet::empty();
        for e in ends {
            possible.add(e);
        }
        stage.unknown = possible
            .difference(&stage.accepted)
            .difference(&stage.denied)
            .difference(&stage.passed)
            .difference(&only(3));
        any.then_some(TriStage {
            stage,
            may_accept,
            may_deny,
            may_pass,
            may_fall_through: fall,
            unknowns,
        })
    }
}
