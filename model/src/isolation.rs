//! How NetworkPolicy decides one direction of a connection on the side whose policies
//! apply (the source for egress, the destination for ingress). The exceptions the API
//! reference defines live here and only here: reach, the matrix, the nftables renderer,
//! lint and the controller's drop reports ask these functions instead of re-deriving
//! them.

use crate::addr::Family;
use crate::cluster::{Endpoint, EndpointId};
use crate::compile::{Model, PeerRef, UnionId};
use crate::objects::Direction;
use crate::party::Party;

/// How one direction of a connection is decided for its subject.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Isolation {
    /// A pod talking to itself is always allowed.
    SelfTraffic,
    /// The subject is not a pod: no NetworkPolicy applies to it.
    NotAPod,
    /// hostNetwork pods are never isolated.
    HostNetwork,
    /// Ingress from the pod's own node is always allowed.
    NodeLocal,
    /// No policy selects the pod for this direction.
    Open,
    /// Policies select the pod: only what the union allows passes.
    Isolated(UnionId),
}

/// What the subject pod alone decides for a direction, whoever the peer is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubjectIsolation {
    HostNetwork,
    Open,
    Isolated(UnionId),
}

impl SubjectIsolation {
    pub fn union(self) -> Option<UnionId> {
        match self {
            SubjectIsolation::Isolated(u) => Some(u),
            SubjectIsolation::HostNetwork | SubjectIsolation::Open => None,
        }
    }
}

impl Endpoint {
    /// Is it a pod of the pod network? Only those are chosen by pod and namespace
    /// selectors, isolated by policies and own their addresses: a hostNetwork pod is
    /// its node.
    pub fn on_pod_network(&self) -> bool {
        !self.host_network
    }

    /// The node a hostNetwork pod stands for as a peer; None for any other pod.
    pub fn as_node(&self) -> Option<&str> {
        if self.host_network {
            self.node.as_deref()
        } else {
            None
        }
    }

    /// The address families it speaks; None when it could speak any (its address is
    /// not known yet: a template, a pending pod).
    pub fn families(&self) -> Option<Vec<Family>> {
        if self.addrs.is_empty() {
            return None;
        }
        let mut f: Vec<Family> = self.addrs.iter().map(Family::of).collect();
        f.sort();
        f.dedup();
        Some(f)
    }

    /// Can it send or receive over `family`?
    pub fn speaks(&self, family: Family) -> bool {
        self.addrs.is_empty() || self.addrs.iter().any(|a| Family::of(a) == family)
    }
}

impl Model {
    /// What the pod's own state decides for direction `d`.
    pub fn subject_isolation(&self, e: EndpointId, d: Direction) -> SubjectIsolation {
        if !self.cluster.endpoint(e).on_pod_network() {
            return SubjectIsolation::HostNetwork;
        }
        match self.union_of(e, d) {
            Some(u) => SubjectIsolation::Isolated(u.id),
            None => SubjectIsolation::Open,
        }
    }

    /// How direction `d` of a connection between `subject` (whose policies apply) and
    /// `other` is decided. The order is that of the exceptions: self traffic, a subject
    /// that is no pod, hostNetwork, the own node (ingress only), then the policies.
    pub fn isolation(&self, subject: Party, d: Direction, other: Party) -> Isolation {
        let Party::Endpoint(s) = subject else {
            return Isolation::NotAPod;
        };
        if other == subject {
            return Isolation::SelfTraffic;
        }
        match self.subject_isolation(s, d) {
            SubjectIsolation::HostNetwork => Isolation::HostNetwork,
            _ if d == Direction::Ingress && self.is_own_node(self.cluster.endpoint(s), other) => {
                Isolation::NodeLocal
            }
            SubjectIsolation::Open => Isolation::Open,
            SubjectIsolation::Isolated(u) => Isolation::Isolated(u),
        }
    }

    /// Is `other` the node of pod `s`: a hostNetwork pod on it, or one of its addresses
    /// (the pod's hostIPs)? There is no such exception for egress.
    pub fn is_own_node(&self, s: &Endpoint, other: Party) -> bool {
        match other {
            Party::Endpoint(o) => {
                let o = self.cluster.endpoint(o);
                o.as_node().is_some() && o.as_node() == s.node.as_deref()
            }
            Party::External(net) => {
                net.prefix_len() == net.max_prefix_len() && s.host_addrs.contains(&net.addr())
            }
        }
    }

    /// The address families over which `a` and `b` can talk: those both speak, the
    /// known side's when the other could speak any, the cluster's when neither is known.
    pub fn shared_families(&self, a: Party, b: Party) -> Vec<Family> {
        match (a.families(&self.cluster), b.families(&self.cluster)) {
            (Some(a), Some(b)) => a.into_iter().filter(|f| b.contains(f)).collect(),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => self.families_in_use(),
        }
    }

    /// Does the peer admit `other` over `family`?
    pub fn peer_admits(&self, peer: PeerRef, other: Party, family: Family) -> bool {
        match other {
            Party::Endpoint(e) => self.peer_admits_endpoint(peer, self.cluster.endpoint(e), family),
            Party::External(net) => self.peer_admits_addr(peer, &net),
        }
    }
}
