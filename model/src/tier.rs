//! Cluster-scoped tiered policies: `policy.networking.k8s.io/v1alpha2`
//! ClusterNetworkPolicy and the v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy
//! it replaces, read into one internal form (`decode_tier` builds it). The field docs of
//! the network-policy-api types define every meaning here.

use crate::error::Source;
use crate::ports::Protocol;
use crate::selector::{LabelSelector, Labels};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Which API object a tiered policy was read from (for names, explain and lint).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum TierKind {
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy.
    ClusterNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy (the Admin tier).
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy (the singleton
    /// `default`, the Baseline tier).
    BaselineAdminNetworkPolicy,
}

impl TierKind {
    pub const fn kind(self) -> &'static str {
        match self {
            TierKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            TierKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            TierKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }

    /// kubectl's short name.
    pub const fn short(self) -> &'static str {
        match self {
            TierKind::ClusterNetworkPolicy => "cnp",
            TierKind::AdminNetworkPolicy => "anp",
            TierKind::BaselineAdminNetworkPolicy => "banp",
        }
    }
}

/// The tiers, in evaluation order around the NetworkPolicy stage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Tier {
    /// Before NetworkPolicy: Accept and Deny are final, Pass goes to NetworkPolicy.
    Admin,
    /// After NetworkPolicy, for pods it does not isolate in that direction.
    Baseline,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Admin => "Admin",
            Tier::Baseline => "Baseline",
        })
    }
}

/// A rule's action (v1alpha1's `Allow` is `Accept`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TierAction {
    Accept,
    Deny,
    /// Skips the rest of the tier: in the Admin tier evaluation goes on with
    /// NetworkPolicy, in the Baseline tier with the default (allow).
    Pass,
}

impl fmt::Display for TierAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TierAction::Accept => "Accept",
            TierAction::Deny => "Deny",
            TierAction::Pass => "Pass",
        })
    }
}

/// The pods a tiered policy applies to (never hostNetwork pods).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TierSubject {
    /// Every pod of the namespaces the selector matches.
    Namespaces(LabelSelector),
    /// Pods matching `pods` in namespaces matching `namespaces`.
    Pods {
        namespaces: LabelSelector,
        pods: LabelSelector,
    },
}

/// One peer of a tiered rule: exactly one field of the API's peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TierPeer {
    /// Every pod (off the host network) of the matching namespaces.
    Namespaces(LabelSelector),
    Pods {
        namespaces: LabelSelector,
        pods: LabelSelector,
    },
    /// CIDRs, matched against every address, pod addresses included (egress only). Kept
    /// masked: a CIDR written with host bits (`10.1.2.3/8`, which the API admits) is its
    /// network (`10.0.0.0/8`).
    Networks(Vec<IpNet>),
    /// The addresses (`status.addresses`) of the nodes the selector matches (egress
    /// only; experimental channel).
    Nodes(LabelSelector),
    /// FQDNs (egress, Accept only; experimental). Not enforced: the rule matches
    /// nothing, which fails closed for Accept.
    DomainNames(Vec<String>),
}

/// A port match of a tiered rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TierPort {
    /// A port or an inclusive range of one protocol (a single port: start == end).
    Range {
        protocol: Protocol,
        start: u16,
        end: u16,
    },
    /// A container port name, resolved on the destination pod to its number and
    /// protocol together. The API does not check the name: one that no container port
    /// has matches nothing.
    Named(String),
}

/// One ingress or egress rule, in precedence order inside its policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TierRule {
    /// The rule's `name` (may be empty).
    pub name: String,
    pub action: TierAction,
    /// At least one (the API requires it).
    pub peers: Vec<TierPeer>,
    /// None: every port of every protocol (the rule has no `protocols`, v1alpha2, or
    /// `ports`, v1alpha1); else at least one.
    pub ports: Option<Vec<TierPort>>,
}

/// A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierPolicy {
    pub kind: TierKind,
    pub name: String,
    pub labels: Labels,
    /// `metadata.annotations` (lint reads `netfence.io/lint-ignore` from them).
    pub annotations: BTreeMap<String, String>,
    pub source: Source,
    pub tier: Tier,
    /// 0-1000, lower first (a BaselineAdminNetworkPolicy has none: 0).
    pub priority: u32,
    pub subject: TierSubject,
    pub ingress: Vec<TierRule>,
    pub egress: Vec<TierRule>,
}

impl TierPolicy {
    /// `cnp/name`, `anp/name` or `banp/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind.short(), self.name)
    }

    pub fn rules(&self, d: crate::objects::Direction) -> &[TierRule] {
        match d {
            crate::objects::Direction::Ingress => &self.ingress,
            crate::objects::Direction::Egress => &self.egress,
        }
    }
}

/// A Node, for `nodes` peers: its labels and the addresses in `status.addresses`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub labels: Labels,
    pub addrs: Vec<IpAddr>,
    pub source: Source,
}
