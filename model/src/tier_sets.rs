//! The tiers in set form, for one probed port over one address family: every element of
//! a stack resolved to the endpoints its peer matches and to the destinations on which
//! its ports hold the port, and a stack's walk deciding a whole set of other ends at once.
//! The matrix asks this instead of [`TierStack::evaluate`] per pair; the answers are the
//! same end by end (the tests below hold them to [`TierPeerMatch::admits`] and
//! [`tier_ports`], and the analyzer's to [`crate::Model::decide`] on random clusters).

use crate::addr::Family;
use crate::addr_index::AddrIndex;
use crate::bitset::EndpointSet;
use crate::cluster::{Cluster, Endpoint, EndpointId};
use crate::objects::Direction;
use crate::ports::{PortRef, Protocol};
use crate::tier::{TierAction, TierPort};
#[cfg(doc)]
use crate::tiers::tier_ports;
use crate::tiers::{TierElement, TierPeerMatch, TierStack};
use std::collections::HashMap;

/// The port probed towards each destination: a number, or a container port name
/// resolved on each destination (a column of the matrix).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ProbedPort {
    pub protocol: Protocol,
    pub port: PortRef,
}

impl ProbedPort {
    /// The port probed on destination `e`; None when a named port is not defined there.
    pub fn at(&self, e: &Endpoint) -> Option<u16> {
        match &self.port {
            PortRef::Number(p) => Some(*p),
            PortRef::Name(name) => e.named_port(name, self.protocol),
        }
    }
}

/// What a tier's walk did to a set of undecided other ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetStage {
    pub accepted: EndpointSet,
    pub denied: EndpointSet,
    pub passed: EndpointSet,
    /// The undecided ends no element matched.
    pub left: EndpointSet,
}

/// The other ends an element matches on the probed port: its peer's set, cut to a set of
/// destinations when its ports hold the port on some destinations only.
pub type ElementHits<'s> = (&'s EndpointSet, Option<&'s EndpointSet>);

impl TierStack {
    /// The set form of [`TierStack::evaluate`] for one probed port: each end of
    /// `undecided` goes to the first element (in order) that matches it, and takes that
    /// element's action. `hits(i, el)` is what element `i` matches (None: nothing).
    pub fn evaluate_sets<'s>(
        &'s self,
        undecided: &EndpointSet,
        mut hits: impl FnMut(usize, &'s TierElement) -> Option<ElementHits<'s>>,
    ) -> SetStage {
        let n = undecided.len();
        let mut stage = SetStage {
            accepted: EndpointSet::empty(n),
            denied: EndpointSet::empty(n),
            passed: EndpointSet::empty(n),
            left: undecided.clone(),
        };
        for (i, el) in self.elements.iter().enumerate() {
            let Some((peers, ports)) = hits(i, el) else {
                continue;
            };
            let into = match el.action {
                TierAction::Accept => &mut stage.accepted,
                TierAction::Deny => &mut stage.denied,
                TierAction::Pass => &mut stage.passed,
            };
            if stage.left.move_common(peers, ports, into) && stage.left.is_empty() {
                break;
            }
        }
        stage
    }
}

/// How an element's ports meet the probed port.
#[derive(Clone, Copy, Debug)]
enum PortHit {
    /// On every destination.
    All,
    /// On none.
    Never,
    /// On the destinations of `port_sets[i]`.
    Some(usize),
}

/// How an element's peer is matched.
#[derive(Clone, Copy, Debug)]
enum PeerHit {
    /// By the element's own endpoint set.
    Own,
    /// By `addr_sets[i]` (an address peer over the family).
    Addrs(usize),
    Never,
}

/// The elements of the tiers resolved to sets for one probed port and family, lazily,
/// stack by stack, each peer and each port list once.
pub struct TierSets<'m> {
    cluster: &'m Cluster,
    family: Family,
    probe: ProbedPort,
    addrs: &'m AddrIndex,
    addr_sets: Vec<EndpointSet>,
    addr_ids: HashMap<ElementKey, usize>,
    port_sets: Vec<EndpointSet>,
    port_ids: HashMap<Vec<TierPort>, usize>,
    /// Per stack (by id), per element.
    resolved: Vec<Option<Vec<(PeerHit, PortHit)>>>,
}

/// A (rule, peer) of a policy: the elements of different stacks that hold the same peer.
type ElementKey = (u32, Direction, usize, usize);

impl<'m> TierSets<'m> {
    pub fn new(
        cluster: &'m Cluster,
        family: Family,
        probe: ProbedPort,
        addrs: &'m AddrIndex,
    ) -> Self {
        TierSets {
            cluster,
            family,
            probe,
            addrs,
            addr_sets: Vec::new(),
            addr_ids: HashMap::new(),
            port_sets: Vec::new(),
            port_ids: HashMap::new(),
            resolved: Vec::new(),
        }
    }

    pub fn probe(&self) -> &ProbedPort {
        &self.probe
    }

    fn resolve(&mut self, stack: &TierStack) {
        let si = stack.id.0 as usize;
        if self.resolved.len() <= si {
            self.resolved.resize(si + 1, None);
        }
        if self.resolved[si].is_some() {
            return;
        }
        let r = stack
            .elements
            .iter()
            .map(|el| (self.peer_hit(el), self.port_hit(el.ports.as_deref())))
            .collect();
        self.resolved[si] = Some(r);
    }

    fn peer_hit(&mut self, el: &TierElement) -> PeerHit {
        match &el.peer {
            TierPeerMatch::Endpoints(_) => PeerHit::Own,
            TierPeerMatch::Nothing => PeerHit::Never,
            TierPeerMatch::Addrs(a) => {
                let key = (el.policy.0, el.direction, el.rule, el.peer_index);
                let next = self.addr_sets.len();
                let i = *self.addr_ids.entry(key).or_insert(next);
                if i == next {
                    self.addr_sets.push(self.addrs.admitted(a, self.family));
                }
                PeerHit::Addrs(i)
            }
        }
    }

    /// The destinations on which `ports` holds the probed port: the set form of
    /// `tier_ports(ports, Some(d)).contains(protocol, probe.at(d))`.
    fn port_hit(&mut self, ports: Option<&[TierPort]>) -> PortHit {
        let Some(ports) = ports else {
            return PortHit::All;
        };
        let protocol = self.probe.protocol;
        // A numeric probe meets a range on every destination or on none.
        let uniform = match &self.probe.port {
            PortRef::Number(p) => ports
                .iter()
                .all(|tp| matches!(tp, TierPort::Range { .. }))
                .then(|| {
                    ports.iter().any(|tp| {
                        matches!(tp, TierPort::Range { protocol: pr, start, end }
                            if *pr == protocol && start <= p && p <= end)
                    })
                }),
            PortRef::Name(_) => None,
        };
        match uniform {
            Some(true) => return PortHit::All,
            Some(false) => return PortHit::Never,
            None => {}
        }
        if let Some(&i) = self.port_ids.get(ports) {
            return PortHit::Some(i);
        }
        let mut set = EndpointSet::empty(self.cluster.endpoints.len());
        for d in &self.cluster.endpoints {
            let Some(p) = self.probe.at(d) else { continue };
            let hit = ports.iter().any(|tp| match tp {
                TierPort::Range {
                    protocol: pr,
                    start,
                    end,
                } => *pr == protocol && *start <= p && p <= *end,
                // A name resolves on a pod of the pod network to each container port of
                // that name, number and protocol together.
                TierPort::Named(name) => {
                    d.on_pod_network()
                        && d.named_ports(name)
                            .any(|cp| cp.protocol == protocol && cp.port == p)
                }
            });
            if hit {
                set.insert(d.id.index());
            }
        }
        self.port_sets.push(set);
        self.port_ids
            .insert(ports.to_vec(), self.port_sets.len() - 1);
        PortHit::Some(self.port_sets.len() - 1)
    }

    /// What element `i` of `stack` matches for `subject` (whose stack it is): for
    /// ingress the ports hold on the subject (the destination) or not at all, for egress
    /// they cut the other ends (the destinations).
    fn hits<'s>(
        &'s self,
        stack: &'s TierStack,
        subject: EndpointId,
        i: usize,
    ) -> Option<ElementHits<'s>> {
        let (peer, port) = self.resolved[stack.id.0 as usize].as_ref()?[i];
        let ports = match port {
            PortHit::All => None,
            PortHit::Never => return None,
            PortHit::Some(j) => match stack.direction {
                Direction::Ingress if self.port_sets[j].contains(subject.index()) => None,
                Direction::Ingress => return None,
                Direction::Egress => Some(&self.port_sets[j]),
            },
        };
        let peers = match (peer, &stack.elements[i].peer) {
            (PeerHit::Own, TierPeerMatch::Endpoints(set)) => &**set,
            (PeerHit::Addrs(k), _) => &self.addr_sets[k],
            _ => return None,
        };
        Some((peers, ports))
    }

    /// The walk of `stack` (applying to `subject`) over the `undecided` other ends.
    pub fn stage(
        &mut self,
        stack: &TierStack,
        subject: EndpointId,
        undecided: &EndpointSet,
    ) -> SetStage {
        self.resolve(stack);
        let this = &*self;
        stack.evaluate_sets(undecided, |i, _| this.hits(stack, subject, i))
    }

    /// Which elements of `stack` can match anything for `subject`, as bits: subjects of
    /// one stack with the same bits get the same [`TierSets::stage`], so a caller can
    /// share it between them.
    pub fn pattern(&mut self, stack: &TierStack, subject: EndpointId) -> Vec<u64> {
        self.resolve(stack);
        let mut bits = vec![0u64; stack.elements.len().div_ceil(64)];
        for i in 0..stack.elements.len() {
            if self.hits(stack, subject, i).is_some() {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::Party;
    use crate::ports::PortSet;
    use crate::tiers::tier_ports;

    const CLUSTER: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  nodeName: n1
  containers: [{name: c, ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}]}]
status: {phase: Running, podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: alt, namespace: a, labels: {app: web}}
spec:
  nodeName: n1
  containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Running, podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: a, labels: {app: db}}
spec:
  containers: [{name: c, ports: [{name: http, containerPort: 80}]}]
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: a, labels: {app: web}}
spec:
  nodeName: n1
  hostNetwork: true
  containers: [{name: c, ports: [{name: http, containerPort: 80}]}]
status: {phase: Running, podIP: 192.168.0.1, hostIP: 192.168.0.1}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {zone: z1}}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: p}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - action: Accept
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
    protocols: [{destinationNamedPort: http}]
  - action: Pass
    from: [{namespaces: {matchLabels: {team: x}}}]
    protocols: [{tcp: {destinationPort: {range: {start: 70, end: 80}}}}]
  egress:
  - action: Deny
    to: [{networks: [10.0.0.2/32, 192.168.0.0/24]}]
  - action: Accept
    to: [{nodes: {matchLabels: {zone: z1}}}]
  - action: Deny
    to: [{networks: [0.0.0.0/0]}]
    protocols: [{udp: {destinationPort: {number: 53}}}]
  - action: Accept
    to: [{pods: {namespaceSelector: {}, podSelector: {}}}]
    protocols: [{destinationNamedPort: dns}, {tcp: {destinationPort: {number: 8080}}}]
";

    fn probes() -> Vec<ProbedPort> {
        let mut out = Vec::new();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            for port in [53, 70, 80, 8080] {
                out.push(ProbedPort {
                    protocol,
                    port: PortRef::Number(port),
                });
            }
            for name in ["http", "dns", "none"] {
                out.push(ProbedPort {
                    protocol,
                    port: PortRef::Name(name.into()),
                });
            }
        }
        out
    }

    /// Every element's sets against `admits` and `tier_ports`, and every stage against
    /// `evaluate` end by end.
    #[test]
    fn sets_agree_with_the_pairwise_evaluation() {
        let model = crate::compile_text("t.yaml", CLUSTER, "default").unwrap();
        let cluster = &model.cluster;
        let idx = AddrIndex::new(cluster);
        let n = cluster.endpoints.len();
        for d in Direction::BOTH {
            assert!(model.tiers.stacks.iter().any(|s| s.direction == d), "{d}");
        }
        let mut checked = 0;
        for probe in probes() {
            for family in Family::ALL {
                let mut sets = TierSets::new(cluster, family, probe.clone(), &idx);
                for stack in &model.tiers.stacks {
                    for &subject in &stack.members {
                        let stage = sets.stage(stack, subject, &EndpointSet::full(n));
                        for o in &cluster.endpoints {
                            let dst = match stack.direction {
                                Direction::Ingress => cluster.endpoint(subject),
                                Direction::Egress => o,
                            };
                            let Some(p) = probe.at(dst) else { continue };
                            let want = stack.evaluate(
                                cluster,
                                Party::Endpoint(o.id),
                                family,
                                Some(dst),
                                &PortSet::single(probe.protocol, p),
                            );
                            let i = o.id.index();
                            let got = (
                                stage.accepted.contains(i),
                                stage.denied.contains(i),
                                stage.passed.contains(i),
                                stage.left.contains(i),
                            );
                            let want = (
                                !want.accepted.is_empty(),
                                !want.denied.is_empty(),
                                !want.passed.is_empty(),
                                want.accepted.is_empty()
                                    && want.denied.is_empty()
                                    && want.passed.is_empty(),
                            );
                            assert_eq!(
                                got, want,
                                "{probe:?} {family} {:?} other {}",
                                stack.direction, o.name
                            );
                            checked += 1;
                        }
                        // Each element alone, through `admits` and `tier_ports`.
                        for (k, el) in stack.elements.iter().enumerate() {
                            let hits = sets.hits(stack, subject, k);
                            for o in &cluster.endpoints {
                                let dst = match stack.direction {
                                    Direction::Ingress => cluster.endpoint(subject),
                                    Direction::Egress => o,
                                };
                                let Some(p) = probe.at(dst) else { continue };
                                let want = el.peer.admits(cluster, Party::Endpoint(o.id), family)
                                    && tier_ports(el.ports.as_deref(), Some(dst))
                                        .contains(probe.protocol, p);
                                let got = hits.is_some_and(|(peers, ports)| {
                                    peers.contains(o.id.index())
                                        && ports.is_none_or(|s| s.contains(o.id.index()))
                                });
                                assert_eq!(
                                    got, want,
                                    "{probe:?} {family} element {k} other {}",
                                    o.name
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 200, "{checked}");
    }
}
