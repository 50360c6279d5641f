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
use crate::truth::Truth;
use crate::unknown::{record, Unknown};

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
    /// Every port this direction surely lets through.
    pub allowed: PortSet,
    /// Ports whose outcome depends on facts the input does not show (none of them is in
    /// `allowed`): the first stage element that might decide them might not match.
    pub unknown: PortSet,
    /// Those facts, each with the ports that hang on it.
    pub unknowns: Vec<Unknown>,
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
            unknown: PortSet::empty(),
            unknowns: Vec::new(),
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

    /// Three-valued [`Model::union_allowed`]: the ports surely allowed, the ports that
    /// some element only maybe allows (no surely matching one does), and the facts those
    /// hang on.
    pub fn union_truth(
        &self,
        u: UnionId,
        other: Party,
        family: Family,
        dst: Option<&Endpoint>,
    ) -> (PortSet, PortSet, Vec<Unknown>) {
        let (mut sure, mut maybe) = (PortSet::empty(), PortSet::empty());
        let mut facts = Vec::new();
        let other_ep = other.endpoint().map(|e| self.cluster.endpoint(e));
        for a in &self.union(u).allows {
            let truth = match other_ep {
                Some(e) => self.peer_truth_endpoint(a.peer, e, family),
                None => Truth::from(self.peer_admits(a.peer, other, family)),
            };
            match truth {
                Truth::True => sure.add(&a.ports_for(dst)),
                Truth::Unknown => {
                    let ports = a.ports_for(dst);
                    maybe.add(&ports);
                    if let (crate::compile::PeerRef::Peer(id), Some(e)) = (a.peer, other_ep) {
                        facts.push((self.peer_unknown_fact(id, a.policy, e), ports));
                    }
                }
                Truth::False => {}
            }
        }
        let maybe = maybe.difference(&sure);
        let mut unknowns = Vec::new();
        for (fact, ports) in facts {
            record(&mut unknowns, fact, &ports.intersection(&maybe));
        }
        (sure, maybe, unknowns)
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
        // Possibility sets: a rule that might match forks the walk, so a port may end in
        // more than one outcome; it is allowed (denied) where only that is possible, and
        // unknown where both are. For known inputs every port has one outcome.
        let mut reach = PortSet::all();
        let mut may_allow = PortSet::empty();
        let mut may_deny = PortSet::empty();
        let mut facts = Vec::new();
        let mut tier = |tier: Tier,
                        reach: &mut PortSet,
                        allow: &mut PortSet,
                        deny: &mut PortSet| {
            let tri =
                self.tiers
                    .evaluate_tri(&self.cluster, tier, d, s, other, family, dst, reach)?;
            allow.add(&tri.may_accept);
            deny.add(&tri.may_deny);
            *reach = tri.may_fall_through.clone();
            match tier {
                // An Admin Pass hands the port to NetworkPolicy.
                Tier::Admin => reach.add(&tri.may_pass),
                // A Baseline Pass ends in the default allow.
                Tier::Baseline => allow.add(&tri.may_pass),
            }
            facts.extend(tri.unknowns);
            let stack = self.tiers.stack_of(sid, tier, d)?;
            Some((stack.id, tri.stage))
        };
        let admin = tier(Tier::Admin, &mut reach, &mut may_allow, &mut may_deny);
        let (mut np_decided, mut np_allowed) = (PortSet::empty(), PortSet::empty());
        let mut np_facts = Vec::new();
        if let SubjectIsolation::Isolated(u) = self.subject_isolation(sid, d) {
            // NetworkPolicy decides everything that reaches it; its own-node exception
            // is part of its answer.
            let (sure, maybe) = if isolation == Isolation::NodeLocal {
                (PortSet::all(), PortSet::empty())
            } else {
                let (sure, maybe, f) = self.union_truth(u, other, family, dst);
                np_facts = f;
                (sure, maybe)
            };
            np_allowed = sure.intersection(&reach);
            may_allow.add(&np_allowed);
            may_allow.add(&maybe.intersection(&reach));
            may_deny.add(&reach.difference(&sure));
            np_decided = std::mem::replace(&mut reach, PortSet::empty());
        }
        let baseline = tier(Tier::Baseline, &mut reach, &mut may_allow, &mut may_deny);
        facts.extend(np_facts);
        may_allow.add(&reach);
        let allowed = may_allow.difference(&may_deny);
        let unknown = may_allow.intersection(&may_deny);
        let mut unknowns = Vec::new();
        for f in facts {
            record(&mut unknowns, f.fact, &f.ports.intersection(&unknown));
        }
        let undecided = reach;
        DirectionDecision {
            isolation,
            admin,
            np_decided,
            np_allowed,
            baseline,
            defaulted: undecided,
            allowed,
            unknown,
            unknowns,
        }
    }
}
