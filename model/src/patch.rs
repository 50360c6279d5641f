//! Patching a compiled model for one pod created, changed or deleted, so that a node
//! controller does not recompile 10,000 endpoints for each pod event.
//!
//! A patched model answers every question as `Model::compile` of the changed cluster
//! would; only numbering differs (a new pod takes the next endpoint id, a deleted pod's
//! id goes to the last endpoint). Namespace and policy changes are not patched: they can
//! move many endpoints between many peers at once, and a recompile is the clear way.
//! Tests hold patched models to fresh compiles over random event sequences.

use crate::cluster::{
    destination_named_port, endpoint_key, Endpoint, EndpointId, EndpointKind, PolicyId,
};
use crate::compile::{new_union, Model, PeerId, PeerMatch, UnionId};
use crate::objects::{ContainerPort, Direction, Peer, Pod, WorkloadKind};
use crate::ports::Protocol;
use std::net::IpAddr;

/// A pod as the sets derived from the model see it, before or after a change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointState {
    pub addrs: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    /// The selector peers holding it, sorted.
    pub peers: Vec<PeerId>,
}

impl EndpointState {
    fn of(e: &Endpoint) -> EndpointState {
        EndpointState {
            addrs: e.addrs.clone(),
            ports: e.ports.clone(),
            host_network: e.host_network,
            peers: Vec::new(),
        }
    }

    /// See [`Endpoint::on_pod_network`].
    pub fn on_pod_network(&self) -> bool {
        !self.host_network
    }

    /// A policy's named port resolved with this pod as the destination.
    pub fn destination_named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        destination_named_port(&self.ports, self.host_network, name, protocol)
    }

    pub fn in_peer(&self, p: PeerId) -> bool {
        self.peers.binary_search(&p).is_ok()
    }
}

/// What a patch changed: enough for caches derived from the model (the nftables
/// renderer's sets) to edit themselves instead of starting over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodChange {
    /// The pod before (None: it was not an endpoint).
    pub before: Option<EndpointState>,
    /// The pod after (None: it is no longer an endpoint).
    pub after: Option<EndpointState>,
    /// Another pod (not on the host network) holds one of this pod's old or new
    /// addresses, as happens when an address is reused before the old pod is gone:
    /// sets of addresses cannot then be edited for this pod alone.
    pub shared_addrs: bool,
}

impl PodChange {
    /// Did the change do anything at all?
    pub fn is_empty(&self) -> bool {
        self.before.is_none() && self.after.is_none()
    }
}

/// Why a pod change needs a recompile instead of a patch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unpatchable {
    #[error("namespace {0} is not in the model")]
    UnknownNamespace(String),
    #[error("namespace {0} has workloads, whose stand-in endpoints depend on its pods")]
    Workloads(String),
    #[error("pod {0} is controlled by a workload, which a build of the cluster adds when it is not in the input")]
    Controlled(String),
}

impl Model {
    /// A pod was created or changed (a terminated pod is removed).
    pub fn upsert_pod(&mut self, pod: Pod) -> Result<PodChange, Unpatchable> {
        if pod.terminated {
            return self.remove_pod(&pod.meta.namespace, &pod.meta.name);
        }
        let ns_name = pod.meta.namespace.clone();
        let ns = self
            .cluster
            .namespace_id(&ns_name)
            .ok_or_else(|| Unpatchable::UnknownNamespace(ns_name.clone()))?;
        self.no_workloads_in(&ns_name)?;
        let implies_workload = pod
            .controller
            .as_ref()
            .is_some_and(|c| WorkloadKind::from_kind(&c.kind).is_some());
        if implies_workload {
            return Err(Unpatchable::Controlled(format!(
                "{ns_name}/{}",
                pod.meta.name
            )));
        }
        let key = endpoint_key(&ns_name, &pod.meta.name, EndpointKind::Pod);
        let mut change = PodChange::default();
        let mut e = Endpoint::of_pod(pod, ns, None);
        let id = match self.cluster.endpoint_by_key.get(&key) {
            Some(&id) => {
                e.id = id;
                let old = std::mem::replace(&mut self.cluster.endpoints[id.index()], e);
                let mut before = EndpointState::of(&old);
                before.peers = self.peers_holding(id);
                change.before = Some(before);
                id
            }
            None => {
                let id = EndpointId(self.cluster.endpoints.len() as u32);
                e.id = id;
                self.cluster.endpoints.push(e);
                self.cluster.endpoint_by_key.insert(key, id);
                self.ingress.push(None);
                self.egress.push(None);
                self.resize_peers(id.index() + 1);
                id
            }
        };
        self.rematch_peers(id);
        for d in Direction::BOTH {
            let union = self.selecting_union(id, d);
            self.assign(id, d, union);
        }
        let e = &self.cluster.endpoints[id.index()];
        let mut after = EndpointState::of(e);
        after.peers = self.peers_holding(id);
        change.after = Some(after);
        change.shared_addrs = self.addrs_shared(id, &change);
        self.recompile_tiers();
        Ok(change)
    }

    /// Replaces every tiered policy (a ClusterNetworkPolicy, AdminNetworkPolicy or
    /// BaselineAdminNetworkPolicy changed): the cluster holds them as `Cluster::build`
    /// would (by kind and name, the last of a duplicate kept), and only the tiers are
    /// compiled again; NetworkPolicies, peers and unions do not depend on them.
    pub fn replace_tier_policies(&mut self, policies: Vec<crate::tier::TierPolicy>) {
        let by_key: std::collections::BTreeMap<_, _> = policies
            .into_iter()
            .map(|p| ((p.kind, p.name.clone()), p))
            .collect();
        self.cluster.tier_policies = by_key.into_values().collect();
        self.tiers = crate::tiers::Tiers::compile(&self.cluster);
    }

    /// The tiers' stacks and peer sets again, from the patched cluster: they hold
    /// endpoint ids and sets, which a pod change moves (a removal renumbers the last
    /// endpoint). Cheap next to a recompile: no NetworkPolicy is compiled again.
    fn recompile_tiers(&mut self) {
        if !self.cluster.tier_policies.is_empty() {
            self.tiers = crate::tiers::Tiers::compile(&self.cluster);
        }
    }

    /// A pod was deleted.
    pub fn remove_pod(&mut self, ns: &str, name: &str) -> Result<PodChange, Unpatchable> {
        self.no_workloads_in(ns)?;
        let key = endpoint_key(ns, name, EndpointKind::Pod);
        let Some(id) = self.cluster.endpoint_by_key.remove(&key) else {
            return Ok(PodChange::default());
        };
        let i = id.index();
        let mut before = EndpointState::of(&self.cluster.endpoints[i]);
        before.peers = self.peers_holding(id);
        let mut change = PodChange {
            before: Some(before),
            ..PodChange::default()
        };
        change.shared_addrs = self.addrs_shared(id, &change);
        for peer in &mut self.peers {
            if let PeerMatch::Endpoints(set) = peer {
                set.remove(i);
            }
        }
        self.assign(id, Direction::Ingress, None);
        self.assign(id, Direction::Egress, None);

        // The last endpoint takes the freed id.
        let last = self.cluster.endpoints.len() - 1;
        if i != last {
            let moved = EndpointId(last as u32);
            let unions = [self.ingress[last], self.egress[last]];
            for u in unions.into_iter().flatten() {
                let members = &mut self.unions[u.0 as usize].members;
                members.retain(|m| *m != moved);
                insert_sorted(members, id);
            }
            for peer in &mut self.peers {
                if let PeerMatch::Endpoints(set) = peer {
                    if set.contains(last) {
                        set.insert(i);
                    }
                }
            }
            let e = &self.cluster.endpoints[last];
            let moved_key = endpoint_key(
                &self.cluster.namespaces[e.namespace.index()].name,
                &e.name,
                e.kind,
            );
            self.cluster.endpoint_by_key.insert(moved_key, id);
        }
        self.cluster.endpoints.swap_remove(i);
        if i != last {
            self.cluster.endpoints[i].id = id;
        }
        self.ingress.swap_remove(i);
        self.egress.swap_remove(i);
        self.resize_peers(last);
        self.recompile_tiers();
        Ok(change)
    }

    /// Puts the endpoint in or out of every selector peer, as compile's label index would.
    fn rematch_peers(&mut self, id: EndpointId) {
        let i = id.index();
        let e = &self.cluster.endpoints[i];
        let ns_truth = |sel| self.cluster.namespace_truth(sel, e.namespace).is_true();
        for (pi, (own_ns, def)) in self.peer_defs.iter().enumerate() {
            let (PeerMatch::Endpoints(set), Peer::Selectors { namespace, pod }) =
                (&mut self.peers[pi], def)
            else {
                continue;
            };
            let in_namespace = match namespace {
                None => e.namespace == *own_ns,
                Some(sel) => ns_truth(sel),
            };
            // hostNetwork pods are their node: selectors never choose them.
            let now = e.on_pod_network()
                && in_namespace
                && pod.as_ref().is_none_or(|sel| sel.matches(&e.labels));
            if now {
                set.insert(i);
            } else {
                set.remove(i);
            }
        }
    }

    fn peers_holding(&self, id: EndpointId) -> Vec<PeerId> {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p, PeerMatch::Endpoints(s) if s.contains(id.index())))
            .map(|(i, _)| PeerId(i as u32))
            .collect()
    }

    /// Does another endpoint off the host network hold an address of the pod (before or
    /// after the change, where the pod is off the host network itself)?
    fn addrs_shared(&self, id: EndpointId, change: &PodChange) -> bool {
        let mine: Vec<IpAddr> = [&change.before, &change.after]
            .into_iter()
            .flatten()
            .filter(|s| s.on_pod_network())
            .flat_map(|s| s.addrs.iter().copied())
            .collect();
        !mine.is_empty()
            && self.cluster.endpoints.iter().any(|e| {
                e.id != id && e.on_pod_network() && e.addrs.iter().any(|a| mine.contains(a))
            })
    }

    /// The union of the policies selecting the endpoint in `d`, created if new.
    fn selecting_union(&mut self, id: EndpointId, d: Direction) -> Option<UnionId> {
        let e = &self.cluster.endpoints[id.index()];
        if !e.on_pod_network() {
            return None;
        }
        let policies: Vec<PolicyId> = (0..self.cluster.policies.len())
            .filter(|&p| {
                let policy = &self.cluster.policies[p];
                self.cluster.policy_namespace[p] == e.namespace
                    && policy.affects(d)
                    && policy.pod_selector.matches(&e.labels)
            })
            .map(|p| PolicyId(p as u32))
            .collect();
        if policies.is_empty() {
            return None;
        }
        let key = (d, policies);
        if let Some(u) = self.union_ids.get(&key) {
            return Some(*u);
        }
        let u = UnionId(self.unions.len() as u32);
        self.unions
            .push(new_union(&self.cluster, &self.peer_of, u, d, &key.1));
        self.union_ids.insert(key, u);
        Some(u)
    }

    /// Makes `union` the endpoint's union in `d` (None: not isolated).
    fn assign(&mut self, id: EndpointId, d: Direction, union: Option<UnionId>) {
        let slot = match d {
            Direction::Ingress => &mut self.ingress[id.index()],
            Direction::Egress => &mut self.egress[id.index()],
        };
        let old = std::mem::replace(slot, union);
        if old == union {
            return;
        }
        if let Some(u) = old {
            self.unions[u.0 as usize].members.retain(|m| *m != id);
        }
        if let Some(u) = union {
            insert_sorted(&mut self.unions[u.0 as usize].members, id);
        }
    }

    fn no_workloads_in(&self, ns: &str) -> Result<(), Unpatchable> {
        let (start, end) = self.cluster.workloads_of(ns);
        if start == end {
            Ok(())
        } else {
            Err(Unpatchable::Workloads(ns.to_string()))
        }
    }

    fn resize_peers(&mut self, len: usize) {
        for peer in &mut self.peers {
            if let PeerMatch::Endpoints(set) = peer {
                set.resize(len);
            }
        }
    }
}

fn insert_sorted(v: &mut Vec<EndpointId>, id: EndpointId) {
    if let Err(at) = v.binary_search(&id) {
        v.insert(at, id);
    }
}
