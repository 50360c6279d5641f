//! Compilation: for every endpoint and direction, the union of the policies that select
//! it, with peers resolved to endpoint sets or address sets and provenance kept on every
//! element. Endpoints selected by the same policies share one [`PolicyUnion`].

use crate::addr::{AddrSet, Family, IpBlock};
use crate::bitset::EndpointSet;
use crate::cluster::{Cluster, Endpoint, EndpointId, NamespaceId, PolicyId};
use crate::objects::{Direction, Peer, PortSpec};
use crate::ports::PortSet;
use crate::selector::{LabelSelector, Operator};
use crate::truth::Truth;
use crate::unknown::UnknownFact;
use ipnet::IpNet;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PeerId(pub u32);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct UnionId(pub u32);

/// A resolved peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerMatch {
    /// Pods chosen by selectors (hostNetwork pods are never among them).
    Endpoints(EndpointSet),
    /// Addresses: matched against pod addresses as well as anything outside.
    Addrs(IpBlock),
}

/// Which peers an [`Allow`] admits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PeerRef {
    /// The rule has no from/to: every source or destination, in or outside the cluster.
    Any,
    Peer(PeerId),
}

/// One allowed (peer, ports) element of a union, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    pub policy: PolicyId,
    pub direction: Direction,
    /// Index of the rule in the policy's ingress or egress list.
    pub rule: usize,
    /// Index of the peer in the rule's from/to list (None when the rule has none).
    pub peer_index: Option<usize>,
    pub peer: PeerRef,
    /// Empty: every port of every protocol.
    pub ports: Vec<PortSpec>,
}

impl Allow {
    /// The ports this element allows towards `dst` (named ports resolve on the
    /// destination pod; with no destination pod they match nothing).
    pub fn ports_for(&self, dst: Option<&Endpoint>) -> PortSet {
        resolve_ports(&self.ports, dst)
    }

    pub fn has_named_ports(&self) -> bool {
        self.ports
            .iter()
            .any(|p| matches!(p, PortSpec::Named { .. }))
    }
}

/// Resolves a rule's port list against a destination.
pub fn resolve_ports(specs: &[PortSpec], dst: Option<&Endpoint>) -> PortSet {
    if specs.is_empty() {
        return PortSet::all();
    }
    let mut set = PortSet::empty();
    for spec in specs {
        match spec {
            PortSpec::AllOf(p) => set.add(&PortSet::all_of(*p)),
            PortSpec::Range {
                protocol,
                start,
                end,
            } => set.add_range(*protocol, *start, *end),
            PortSpec::Named { protocol, name } => {
                if let Some(port) = dst.and_then(|d| d.destination_named_port(name, *protocol)) {
                    set.add_range(*protocol, port, port);
                }
            }
        }
    }
    set
}

/// The policies selecting a group of endpoints in one direction, and what they allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyUnion {
    pub id: UnionId,
    pub direction: Direction,
    pub policies: Vec<PolicyId>,
    pub allows: Vec<Allow>,
    pub members: Vec<EndpointId>,
}

/// The compiled model shared by the analyzer and the nftables renderer.
#[derive(Clone, Debug)]
pub struct Model {
    pub cluster: Cluster,
    pub peers: Vec<PeerMatch>,
    pub unions: Vec<PolicyUnion>,
    /// Per endpoint: the ingress union (None: not isolated for ingress).
    pub ingress: Vec<Option<UnionId>>,
    /// Per endpoint: the egress union (None: not isolated for egress).
    pub egress: Vec<Option<UnionId>>,
    /// The (rule, peer) of every policy resolved to a peer id:
    /// `peer_of[policy][direction][rule][peer]`.
    pub(crate) peer_of: Vec<[Vec<Vec<PeerId>>; 2]>,
    /// What each peer was resolved from (its policy's namespace and the peer), so one
    /// endpoint can be re-matched without the label index (see `patch`).
    pub(crate) peer_defs: Vec<(NamespaceId, Peer)>,
    pub(crate) union_ids: HashMap<(Direction, Vec<PolicyId>), UnionId>,
    /// The Admin and Baseline tiers (ClusterNetworkPolicy and the v1alpha1 kinds).
    pub tiers: crate::tiers::Tiers,
}

/// Inverted label index over the endpoints that selectors can choose (the tiers'
/// compile chooses its pods through it too).
pub(crate) struct LabelIndex {
    pub(crate) by_ns: Vec<EndpointSet>,
    by_pair: HashMap<(String, String), EndpointSet>,
    by_key: HashMap<String, EndpointSet>,
    len: usize,
}

impl LabelIndex {
    pub(crate) fn new(cluster: &Cluster) -> Self {
        let len = cluster.endpoints.len();
        let mut idx = LabelIndex {
            by_ns: vec![EndpointSet::empty(len); cluster.namespaces.len()],
            by_pair: HashMap::new(),
            by_key: HashMap::new(),
            len,
        };
        for e in cluster.endpoints.iter().filter(|e| e.on_pod_network()) {
            let i = e.id.index();
            idx.by_ns[e.namespace.index()].insert(i);
            for (k, v) in &e.labels {
                idx.by_pair
                    .entry((k.clone(), v.clone()))
                    .or_insert_with(|| EndpointSet::empty(len))
                    .insert(i);
                idx.by_key
                    .entry(k.clone())
                    .or_insert_with(|| EndpointSet::empty(len))
                    .insert(i);
            }
        }
        idx
    }

    fn pair(&self, k: &str, v: &str) -> Option<&EndpointSet> {
        // Avoids allocating a key per lookup on the common path would need a custom map;
        // selectors are few, so the clone is acceptable.
        self.by_pair.get(&(k.to_string(), v.to_string()))
    }

    /// The endpoints of `within` that `sel` matches.
    pub(crate) fn select(&self, sel: &LabelSelector, within: &EndpointSet) -> EndpointSet {
        let mut out = within.clone();
        for (k, v) in &sel.match_labels {
            match self.pair(k, v) {
                Some(s) => out.intersect_with(s),
                None => return EndpointSet::empty(self.len),
            }
        }
        for r in &sel.match_expressions {
            match &r.op {
                Operator::In(vals) | Operator::NotIn(vals) => {
                    let mut any = EndpointSet::empty(self.len);
                    for v in vals {
                        if let Some(s) = self.pair(&r.key, v) {
                            any.union_with(s);
                        }
                    }
                    if matches!(r.op, Operator::In(_)) {
                        out.intersect_with(&any);
                    } else {
                        out.subtract(&any);
                    }
                }
                Operator::Exists => match self.by_key.get(&r.key) {
                    Some(s) => out.intersect_with(s),
                    None => return EndpointSet::empty(self.len),
                },
                Operator::DoesNotExist => {
                    if let Some(s) = self.by_key.get(&r.key) {
                        out.subtract(s);
                    }
                }
            }
        }
        out
    }
}

impl Model {
    pub fn compile(cluster: Cluster) -> Model {
        let index = LabelIndex::new(&cluster);
        let n = cluster.endpoints.len();
        let mut peers: Vec<PeerMatch> = Vec::new();
        let mut peer_defs: Vec<(NamespaceId, Peer)> = Vec::new();
        let mut interned: HashMap<(NamespaceId, &Peer), PeerId> = HashMap::new();
        let mut ns_sets: HashMap<&LabelSelector, EndpointSet> = HashMap::new();
        let mut peer_of = Vec::with_capacity(cluster.policies.len());

        for (pi, policy) in cluster.policies.iter().enumerate() {
            let own_ns = cluster.policy_namespace[pi];
            let mut per_dir: [Vec<Vec<PeerId>>; 2] = [Vec::new(), Vec::new()];
            for (di, dir) in Direction::BOTH.iter().enumerate() {
                for rule in policy.rules(*dir) {
                    let mut ids = Vec::with_capacity(rule.peers.len());
                    for peer in &rule.peers {
                        let id = *interned.entry((own_ns, peer)).or_insert_with(|| {
                            let m = match peer {
                                Peer::Block(b) => PeerMatch::Addrs(b.clone()),
                                Peer::Selectors { namespace, pod } => {
                                    let within = match namespace {
                                        None => index.by_ns[own_ns.index()].clone(),
                                        Some(sel) => ns_sets
                                            .entry(sel)
                                            .or_insert_with(|| {
                                                let mut s = EndpointSet::empty(n);
                                                for i in 0..cluster.namespaces.len() {
                                                    // Only a sure match: an unknown one
                                                    // is the decision's to name.
                                                    let id = NamespaceId(i as u32);
                                                    if cluster.namespace_truth(sel, id).is_true() {
                                                        s.union_with(&index.by_ns[i]);
                                                    }
                                                }
                                                s
                                            })
                                            .clone(),
                                    };
                                    PeerMatch::Endpoints(match pod {
                                        None => within,
                                        Some(sel) => index.select(sel, &within),
                                    })
                                }
                            };
                            peers.push(m);
                            peer_defs.push((own_ns, peer.clone()));
                            PeerId(peers.len() as u32 - 1)
                        });
                        ids.push(id);
                    }
                    per_dir[di].push(ids);
                }
            }
            peer_of.push(per_dir);
        }

        // Which policies select each endpoint, per direction.
        let mut selecting: [Vec<Vec<PolicyId>>; 2] = [vec![Vec::new(); n], vec![Vec::new(); n]];
        for (pi, policy) in cluster.policies.iter().enumerate() {
            let ns = cluster.policy_namespace[pi];
            let selected = index.select(&policy.pod_selector, &index.by_ns[ns.index()]);
            for e in selected.iter() {
                for (di, dir) in Direction::BOTH.iter().enumerate() {
                    if policy.affects(*dir) {
                        selecting[di][e].push(PolicyId(pi as u32));
                    }
                }
            }
        }

        let mut unions: Vec<PolicyUnion> = Vec::new();
        let mut union_ids: HashMap<(Direction, Vec<PolicyId>), UnionId> = HashMap::new();
        let mut assigned: [Vec<Option<UnionId>>; 2] = [vec![None; n], vec![None; n]];
        for (di, dir) in Direction::BOTH.iter().enumerate() {
            for (e, policies) in std::mem::take(&mut selecting[di]).into_iter().enumerate() {
                if policies.is_empty() {
                    continue;
                }
                let key = (*dir, policies);
                let id = match union_ids.get(&key) {
                    Some(id) => *id,
                    None => {
                        let id = UnionId(unions.len() as u32);
                        unions.push(new_union(&cluster, &peer_of, id, *dir, &key.1));
                        union_ids.insert(key, id);
                        id
                    }
                };
                unions[id.0 as usize].members.push(EndpointId(e as u32));
                assigned[di][e] = Some(id);
            }
        }
        let [ingress, egress] = assigned;
        let tiers = crate::tiers::Tiers::compile_indexed(&cluster, &index);
        Model {
            tiers,
            cluster,
            peers,
            unions,
            ingress,
            egress,
            peer_of,
            peer_defs,
            union_ids,
        }
    }

    pub fn union(&self, id: UnionId) -> &PolicyUnion {
        &self.unions[id.0 as usize]
    }

    /// The address families the cluster uses: those of any endpoint address or ipBlock
    /// (IPv4 when there are none). The one definition: the analyzer asks it for ends
    /// whose address is unknown and for the matrix, the renderer for which families
    /// get peer sets and rules.
    pub fn families_in_use(&self) -> Vec<Family> {
        let mut out: Vec<Family> = Family::ALL
            .into_iter()
            .filter(|f| {
                self.cluster
                    .endpoints
                    .iter()
                    .any(|e| e.addrs.iter().any(|a| Family::of(a) == *f))
                    || self
                        .peers
                        .iter()
                        .any(|p| matches!(p, PeerMatch::Addrs(b) if b.family() == *f))
            })
            .collect();
        if out.is_empty() {
            out.push(Family::V4);
        }
        out
    }

    /// `ns/name` of the policies of a union, in order.
    pub fn policy_keys(&self, id: UnionId) -> Vec<String> {
        self.union(id)
            .policies
            .iter()
            .map(|p| self.cluster.policy(*p).key())
            .collect()
    }

    pub fn peer(&self, id: PeerId) -> &PeerMatch {
        &self.peers[id.0 as usize]
    }

    /// The union isolating `e` in direction `d`, if any.
    pub fn union_of(&self, e: EndpointId, d: Direction) -> Option<&PolicyUnion> {
        let slot = match d {
            Direction::Ingress => self.ingress[e.index()],
            Direction::Egress => self.egress[e.index()],
        };
        slot.map(|u| self.union(u))
    }

    /// The resolved peer id of a policy's rule peer (for explanations and lint).
    pub fn peer_id(&self, policy: PolicyId, d: Direction, rule: usize, peer: usize) -> PeerId {
        let di = match d {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        };
        self.peer_of[policy.index()][di][rule][peer]
    }

    /// Does the peer admit the endpoint `e` over address family `family`?
    pub fn peer_admits_endpoint(&self, peer: PeerRef, e: &Endpoint, family: Family) -> bool {
        match peer {
            PeerRef::Any => true,
            PeerRef::Peer(id) => match self.peer(id) {
                PeerMatch::Endpoints(set) => set.contains(e.id.index()),
                PeerMatch::Addrs(block) => {
                    addrs_truth(&block.addrs, e, family, &self.cluster.pod_networks).is_true()
                }
            },
        }
    }

    /// Does the peer admit the address `addr`, which is not a pod's?
    pub fn peer_admits_addr(&self, peer: PeerRef, addr: &ipnet::IpNet) -> bool {
        match peer {
            PeerRef::Any => true,
            PeerRef::Peer(id) => match self.peer(id) {
                PeerMatch::Endpoints(_) => false,
                PeerMatch::Addrs(block) => block.addrs.contains_net(addr),
            },
        }
    }
}

impl Model {
    /// Three-valued [`Model::peer_admits_endpoint`]: unknown when the answer depends on
    /// the labels of a namespace that is only referenced, or on the address of an
    /// endpoint that has none yet.
    pub fn peer_truth_endpoint(&self, peer: PeerRef, e: &Endpoint, family: Family) -> Truth {
        let PeerRef::Peer(id) = peer else {
            return Truth::True;
        };
        match self.peer(id) {
            PeerMatch::Endpoints(set) if set.contains(e.id.index()) => Truth::True,
            PeerMatch::Endpoints(_) => {
                let (_, def) = &self.peer_defs[id.0 as usize];
                match def {
                    Peer::Selectors {
                        namespace: Some(sel),
                        pod,
                    } if e.on_pod_network() && !self.cluster.labels_known(e.namespace) => self
                        .cluster
                        .namespace_truth(sel, e.namespace)
                        .and(Truth::from(
                            pod.as_ref().is_none_or(|p| p.matches(&e.labels)),
                        )),
                    _ => Truth::False,
                }
            }
            PeerMatch::Addrs(block) => {
                addrs_truth(&block.addrs, e, family, &self.cluster.pod_networks)
            }
        }
    }

    /// The fact that makes peer `id` unknown for `e` (see [`Model::peer_truth_endpoint`]).
    pub fn peer_unknown_fact(&self, id: PeerId, policy: PolicyId, e: &Endpoint) -> UnknownFact {
        let policy = self.cluster.policy(policy).key();
        match (&self.peer_defs[id.0 as usize].1, self.peer(id)) {
            (Peer::Selectors { namespace, .. }, _) => UnknownFact::NamespaceLabels {
                namespace: self.cluster.namespace(e.namespace).name.clone(),
                selector: format!(
                    "namespaceSelector {}",
                    namespace
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                policy,
            },
            (_, PeerMatch::Addrs(block)) => UnknownFact::Address {
                endpoint: self.cluster.endpoint_name(e.id),
                peer: format!("ipBlock {block}"),
                policy,
                pod_networks: pod_networks_of(&self.cluster.pod_networks, block.family()),
            },
            (Peer::Block(b), _) => UnknownFact::Address {
                endpoint: self.cluster.endpoint_name(e.id),
                peer: format!("ipBlock {b}"),
                policy,
                pod_networks: Vec::new(),
            },
        }
    }
}

/// The pod networks of one family.
pub fn pod_networks_of(nets: &[IpNet], family: Family) -> Vec<IpNet> {
    nets.iter()
        .filter(|n| Family::of_net(n) == family)
        .copied()
        .collect()
}

/// Every address of a family.
fn family_set(family: Family) -> AddrSet {
    let net: IpNet = match family {
        Family::V4 => "0.0.0.0/0".parse().expect("a CIDR"),
        Family::V6 => "::/0".parse().expect("a CIDR"),
    };
    AddrSet::from_net(&net)
}

/// Does a set of addresses hold the endpoint's address of `family`? For an endpoint
/// whose address is not known (a template, a stand-in, a pending pod): true when the
/// set covers every address it could get (the whole family, or the pod network when
/// it is known and the endpoint is on it), false when none (the set has no address of
/// the family, or none of the pod network), unknown otherwise.
pub fn addrs_truth(addrs: &AddrSet, e: &Endpoint, family: Family, pod_networks: &[IpNet]) -> Truth {
    if !e.addrs.is_empty() {
        return Truth::from(
            e.addrs
                .iter()
                .any(|a| Family::of(a) == family && addrs.contains(a)),
        );
    }
    let in_family = addrs.intersection(&family_set(family));
    if in_family.covers_family(family) {
        return Truth::True;
    }
    if in_family.is_empty() {
        return Truth::False;
    }
    let nets = pod_networks_of(pod_networks, family);
    if e.on_pod_network() && !nets.is_empty() {
        if nets.iter().all(|n| addrs.contains_net(n)) {
            return Truth::True;
        }
        if !nets.iter().any(|n| addrs.overlaps_net(n)) {
            return Truth::False;
        }
    }
    Truth::Unknown
}

/// An ipBlock admits an endpoint by its addresses of the family. An endpoint whose
/// address is not known yet (a template, a pending pod) could get any address, so only a
/// block covering the whole family admits it (with no pod network known; the model asks
/// [`addrs_truth`], which knows the pod network).
pub fn block_admits_endpoint(block: &IpBlock, e: &Endpoint, family: Family) -> bool {
    if e.addrs.is_empty() {
        block.addrs.covers_family(family)
    } else {
        e.addrs
            .iter()
            .any(|a| Family::of(a) == family && block.addrs.contains(a))
    }
}

pub(crate) fn new_union(
    cluster: &Cluster,
    peer_of: &[[Vec<Vec<PeerId>>; 2]],
    id: UnionId,
    dir: Direction,
    policies: &[PolicyId],
) -> PolicyUnion {
    PolicyUnion {
        id,
        direction: dir,
        policies: policies.to_vec(),
        allows: build_allows(cluster, peer_of, policies, dir),
        members: Vec::new(),
    }
}

fn build_allows(
    cluster: &Cluster,
    peer_of: &[[Vec<Vec<PeerId>>; 2]],
    policies: &[PolicyId],
    dir: Direction,
) -> Vec<Allow> {
    let di = match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    };
    let mut allows = Vec::new();
    for &p in policies {
        let policy = cluster.policy(p);
        for (ri, rule) in policy.rules(dir).iter().enumerate() {
            if rule.peers.is_empty() {
                allows.push(Allow {
                    policy: p,
                    direction: dir,
                    rule: ri,
                    peer_index: None,
                    peer: PeerRef::Any,
                    ports: rule.ports.clone(),
                });
            }
            for (pi, _) in rule.peers.iter().enumerate() {
                allows.push(Allow {
                    policy: p,
                    direction: dir,
                    rule: ri,
                    peer_index: Some(pi),
                    peer: PeerRef::Peer(peer_of[p.index()][di][ri][pi]),
                    ports: rule.ports.clone(),
                });
            }
        }
    }
    allows
}
