//! The whole decision of one direction of a connection, on the side whose policies
//! apply: the exceptions, then the Admin tier (priority order; Accept and Deny final,
//! Pass hands over), NetworkPolicy (final for a pod it isolates), the Baseline tier, and
//! the default allow. Ports are decided as sets, so one evaluation answers every port.
//! reach, the matrix and the drop reports ask this; the renderer builds the same order
//! into the kernel's chains.

use crate::addr::Family;
use crate::cluster::Endpoint;
use crate::compile::{Model, UnionId};
use crate::isolation::{Isolation, SubjectIsolation};
use crate::objects::Direction;
use crate::party::Party;
use crate::ports::PortSet;
use crate::tier::Tier;
use crate::tiers::{TierStackId, TierStage};

/// What one direction lets through, and which stage decided what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionDecision {
    /// The NetworkPolicy view of the direction (the exceptions, open or isolated).
    pub isolation: Isolation,
    /// The Admin tier's stage, when its policies select the subject.
    pub admin: Option<(TierStackId, TierStage)>,
    /// The ports NetworkPolicy decided (all that reached it when it isolates the
    /// subject; none when it does not) and, of those, the ones it allowed.
    pub np_decided: PortSet,
    pub np_allowed: PortSet,
    /// The Baseline tier's stage, when its policies select the subject.
    pub baseline: Option<(TierStackId, TierStage)>,
    /// Ports no stage decided: allowed by default.
    pub defaulted: PortSet,
    /// Every port this direction lets through.
    pub allowed: PortSet,
}

/// Which stage decided a given port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DecidedBy {
    Exception(Isolation),
    Tier(Tier),
    NetworkPolicy,
    Default,
}

impl DirectionDecision {
    fn open(isolation: Isolation) -> Self {
        DirectionDecision {
            isolation,
            admin: None,
            np_decided: PortSet::empty(),
            np_allowed: PortSet::empty(),
            baseline: None,
            defaulted: PortSet::all(),
            allowed: PortSet::all(),
        }
    }

    /// The stage that decided the ports in `probe` (the first that decided any of them).
    pub fn decided_by(&self, probe: &PortSet) -> DecidedBy {
        let hits = |s: &PortSet| !s.intersection(probe).is_empty();
        if matches!(
            self.isolation,
            Isolation::SelfTraffic | Isolation::NotAPod | Isolation::HostNetwork
        ) {
            return DecidedBy::Exception(self.isolation);
        }
        if let Some((_, st)) = &self.admin {
            if hits(&st.accepted) || hits(&st.denied) {
                return DecidedBy::Tier(Tier::Admin);
            }
        }
        if hits(&self.np_decided) {
            return DecidedBy::NetworkPolicy;
        }
        if let Some((_, st)) = &self.baseline {
            if hits(&st.accepted) || hits(&st.denied) || hits(&st.passed) {
                return DecidedBy::Tier(Tier::Baseline);
            }
        }
        DecidedBy::Default
    }

    /// The tiered rule element (stack, element index) that decided the ports in
    /// `probe`, when a tier decided them.
    pub fn deciding_tier_element(&self, probe: &PortSet) -> Option<(TierStackId, usize)> {
        let (stack, stage) = match self.decided_by(probe) {
            DecidedBy::Tier(Tier::Admin) => self.admin.as_ref()?,
            DecidedBy::Tier(Tier::Baseline) => self.baseline.as_ref()?,
            _ => return None,
        };
        let check = stage
            .checks
            .iter()
            .find(|c| !c.decided.intersection(probe).is_empty())?;
        Some((*stack, check.element))
    }
}

impl Model {
    /// The ports NetworkPolicy union `u` allows towards `dst` for `other` over `family`.
    pub fn union_allowed(
        &self,
        u: UnionId,
        other: Party,
        family: Family,
        dst: Option<&Endpoint>,
    ) -> PortSet {
        let mut out = PortSet::empty();
        for a in &self.union(u).allows {
            if self.peer_admits(a.peer, other, family) {
                out.add(&a.ports_for(dst));
            }
        }
        out
    }

    /// Decides direction `d` of a connection from `subject`'s side (the source for
    /// egress, the destination for ingress) with `other` over `family`.
    pub fn decide(
        &self,
        subject: Party,
        d: Direction,
        other: Party,
        family: Family,
    ) -> DirectionDecision {
        let isolation = self.isolation(subject, d, other);
        let Party::Endpoint(sid) = subject else {
            return DirectionDecision::open(isolation);
        };
        // A pod reaching itself by its own address is not subject to any policy
        // (network-policy-api: hairpin by pod IP is outside CNP); hostNetwork pods are
        // never subjects.
        if matches!(isolation, Isolation::SelfTraffic | Isolation::HostNetwork) {
            return DirectionDecision::open(isolation);
        }
        let s = self.cluster.endpoint(sid);
        let dst: Option<&Endpoint> = match d {
            Direction::Ingress => Some(s),
            Direction::Egress => other.endpoint().map(|e| self.cluster.endpoint(e)),
        };
        let mut undecided = PortSet::all();
        let mut allowed = PortSet::empty();
        let admin = self.tiers.stack_of(sid, Tier::Admin, d).map(|stack| {
            let stage = stack.evaluate(&self.cluster, other, family, dst, &undecided);
            allowed.add(&stage.accepted);
            undecided = undecided
                .difference(&stage.accepted)
                .difference(&stage.denied);
            (stack.id, stage)
        });
        let (mut np_decided, mut np_allowed) = (PortSet::empty(), PortSet::empty());
        if let SubjectIsolation::Isolated(u) = self.subject_isolation(sid, d) {
            // NetworkPolicy decides everything that reaches it; its own-node exception
            // is part of its answer.
            let np = if isolation == Isolation::NodeLocal {
                PortSet::all()
            } else {
                self.union_allowed(u, other, family, dst)
            };
            np_allowed = np.intersection(&undecided);
            np_decided = std::mem::replace(&mut undecided, PortSet::empty());
            allowed.add(&np_allowed);
        }
        let baseline = self.tiers.stack_of(sid, Tier::Baseline, d).map(|stack| {
            let stage = stack.evaluate(&self.cluster, other, family, dst, &undecided);
            // A Pass in the Baseline tier ends in the default allow.
            allowed.add(&stage.accepted);
            allowed.add(&stage.passed);
            undecided = undecided
                .difference(&stage.accepted)
                .difference(&stage.denied)
                .difference(&stage.passed);
            (stack.id, stage)
        });
        allowed.add(&undecided);
        DirectionDecision {
            isolation,
            admin,
            np_decided,
            np_allowed,
            baseline,
            defaulted: undecided,
            allowed,
        }
    }
}
