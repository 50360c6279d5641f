//! The set form of [`Model::decide`] for one probed port and family: of every endpoint as
//! the other end of one direction of a subject, those the direction lets through, with
//! the stages in decide's order (the exceptions, the Admin tier, NetworkPolicy, the
//! Baseline tier, the default). decide stays the reference: the analyzer's tests hold the
//! two to the same verdict on every pair of random clusters. NetworkPolicy's own sets
//! come from the caller, which keeps its caches for them.

use crate::addr::Family;
use crate::addr_index::AddrIndex;
use crate::bitset::EndpointSet;
use crate::cluster::{Endpoint, EndpointId};
use crate::compile::{Model, UnionId};
use crate::isolation::SubjectIsolation;
use crate::objects::Direction;
use crate::party::Party;
use crate::tier::Tier;
use crate::tier_sets::{ProbedPort, TierSets};
use std::collections::HashMap;

/// Decides whole rows of other ends for one probed port and family.
pub struct DecisionSets<'m> {
    model: &'m Model,
    tiers: TierSets<'m>,
    /// Per node: the ends that are that node (its hostNetwork pods).
    own_node: HashMap<&'m str, EndpointSet>,
    none: EndpointSet,
}

impl<'m> DecisionSets<'m> {
    pub fn new(model: &'m Model, family: Family, probe: ProbedPort, addrs: &'m AddrIndex) -> Self {
        DecisionSets {
            model,
            tiers: TierSets::new(&model.cluster, family, probe, addrs),
            own_node: HashMap::new(),
            none: EndpointSet::empty(model.cluster.endpoints.len()),
        }
    }

    pub fn tiers(&mut self) -> &mut TierSets<'m> {
        &mut self.tiers
    }

    /// The other ends that are `subject`'s own node, for its ingress: the set form of
    /// [`Model::is_own_node`], asked once per node.
    pub fn own_node(&mut self, subject: EndpointId) -> &EndpointSet {
        let model = self.model;
        let s: &'m Endpoint = model.cluster.endpoint(subject);
        let Some(node) = s.node.as_deref() else {
            return &self.none;
        };
        self.own_node.entry(node).or_insert_with(|| {
            let mut set = EndpointSet::empty(model.cluster.endpoints.len());
            for o in &model.cluster.endpoints {
                if model.is_own_node(s, Party::Endpoint(o.id)) {
                    set.insert(o.id.index());
                }
            }
            set
        })
    }

    /// Of every endpoint as the other end of direction `d` of `subject` (the source for
    /// egress, the destination for ingress), those the direction lets through on the
    /// probed port (each end's own port for egress, the subject's for ingress).
    /// `np_allowed(u)` is what NetworkPolicy union `u` allows (its own-node exception
    /// is added here). The subject itself as the other end is decided like any other
    /// end, so that subjects with the same stages can share the answer: decide allows it
    /// by the self-traffic exception, which the caller adds.
    pub fn decide(
        &mut self,
        subject: EndpointId,
        d: Direction,
        np_allowed: impl FnOnce(UnionId) -> EndpointSet,
    ) -> EndpointSet {
        let n = self.model.cluster.endpoints.len();
        let model = self.model;
        let isolation = model.subject_isolation(subject, d);
        // hostNetwork pods are never subjects.
        if isolation == SubjectIsolation::HostNetwork {
            return EndpointSet::full(n);
        }
        let mut undecided = EndpointSet::full(n);
        let mut allowed = EndpointSet::empty(n);
        if let Some(stack) = model.tiers.stack_of(subject, Tier::Admin, d) {
            let st = self.tiers.stage(stack, subject, &undecided);
            // Accept and Deny are final; Pass goes on to NetworkPolicy.
            allowed.union_with(&st.accepted);
            undecided = st.left;
            undecided.union_with(&st.passed);
        }
        if let SubjectIsolation::Isolated(u) = isolation {
            // NetworkPolicy decides everything that reaches it, its own-node exception
            // included.
            let mut np = np_allowed(u);
            if d == Direction::Ingress {
                np.union_with(self.own_node(subject));
            }
            np.intersect_with(&undecided);
            allowed.union_with(&np);
            return allowed;
        }
        if let Some(stack) = model.tiers.stack_of(subject, Tier::Baseline, d) {
            let st = self.tiers.stage(stack, subject, &undecided);
            // A Pass in the Baseline tier ends in the default allow.
            allowed.union_with(&st.accepted);
            allowed.union_with(&st.passed);
            undecided = st.left;
        }
        allowed.union_with(&undecided);
        allowed
    }
}
