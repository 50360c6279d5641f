//! A description of the netfence table: what `render` produces and the serialisers and
//! the delta consume. Everything is ordered (BTree*) so that equal rulesets compare and
//! print equal.

use netfence_model::objects::Direction;
use netfence_model::tier::Tier;
use netfence_model::{Family, Protocol};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

/// The one table netfence owns; nothing else is ever touched.
pub const TABLE: &str = "netfence";

/// A set a full replace creates last, holding one random element: the kernel numbers a
/// new table's objects in order of creation, so the seal's handle is the count of
/// everything the replace created, and its element shows that this replace committed
/// (see `verify`). Not part of any [`Ruleset`]: listings read back skip it.
pub const SEAL_SET: &str = "seal";

/// What a named set holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum SetKind {
    /// Single addresses (pods).
    Addr(Family),
    /// Address ranges (an ipBlock minus its excepts).
    AddrRange(Family),
    /// `addr . proto . port`: a named port resolved on each destination pod.
    AddrProtoPort(Family),
    /// `saddr . daddr`: a pod's traffic to itself (Service hairpin).
    AddrPair(Family),
}

impl SetKind {
    pub fn family(self) -> Family {
        match self {
            SetKind::Addr(f)
            | SetKind::AddrRange(f)
            | SetKind::AddrProtoPort(f)
            | SetKind::AddrPair(f) => f,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Element {
    Addr(IpAddr),
    Range(IpAddr, IpAddr),
    AddrProtoPort(IpAddr, Protocol, u16),
    Pair(IpAddr, IpAddr),
}

/// A set's elements, shared: a set left unchanged by a pod event is the same allocation
/// in the old and the new ruleset, so neither rendering nor diffing walks it again.
pub type Elements = Arc<BTreeSet<Element>>;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SetDef {
    pub kind: SetKind,
    pub elements: Elements,
}

/// A verdict map from a pod address to the chain holding its policy.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MapDef {
    pub family: Family,
    pub call: MapCall,
    pub elements: BTreeMap<IpAddr, String>,
}

/// How a verdict map's elements enter their chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapCall {
    /// `goto`: the chain's end is the base chain's end (a NetworkPolicy union chain
    /// always ends in its drop).
    Goto,
    /// `jump`: the chain's end, or a `return`, goes on in the base chain (a tier's
    /// chain hands what it does not decide to the next stage).
    Jump,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Hook {
    Input,
    Postrouting,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BaseHook {
    pub hook: Hook,
    pub priority: i32,
}

/// Which address of the packet a match looks at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Addr {
    Source,
    Destination,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Match {
    /// `ct state a,b`
    CtState(Vec<&'static str>),
    /// `ip saddr @set` (or daddr, ip6)
    AddrInSet(Family, Addr, String),
    /// `ip saddr != @set`
    AddrNotInSet(Family, Addr, String),
    /// `ip saddr . ip daddr @set`
    PairInSet(Family, String),
    /// `ip daddr . meta l4proto . th dport @set`
    DaddrProtoPortInSet(Family, String),
    /// `meta l4proto tcp`
    L4Proto(Protocol),
    /// `th dport 80` or `th dport 8000-8080` (after an L4Proto match). One range per
    /// rule, never an anonymous set: each anonymous set is a set of its own in the
    /// kernel's transaction, and binding one walks the whole transaction, which made a
    /// table of thousands of port rules load in time quadratic in its size.
    Dport(u16, u16),
    /// ICMPv6 neighbour discovery and router messages.
    NeighbourDiscovery,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verdict {
    Accept,
    Drop,
    /// No verdict: the packet goes on to the next rule (a logging rule).
    Next,
    /// `ip saddr vmap @map` (or daddr, ip6): dispatch to the chain of the pod.
    Vmap(Family, Addr, String),
    /// `jump chain`: a pod's union chain runs the chain of each of its policies.
    Jump(String),
    /// `return`: back to the base chain's next rule (an Admin tier Pass).
    Return,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RuleDef {
    pub matches: Vec<Match>,
    pub counter: bool,
    /// At most this many packets per second (with a burst) pass the rule's statements.
    pub limit: Option<(u32, u32)>,
    /// NFLOG group for this rule's packets (drops), with a prefix naming the chain.
    pub log: Option<(u16, String)>,
    pub verdict: Verdict,
    pub comment: Option<String>,
}

impl RuleDef {
    pub fn new(matches: Vec<Match>, verdict: Verdict) -> Self {
        RuleDef {
            matches,
            counter: false,
            limit: None,
            log: None,
            verdict,
            comment: None,
        }
    }

    pub fn comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChainDef {
    pub name: String,
    pub base: Option<BaseHook>,
    pub rules: Vec<RuleDef>,
}

/// What a union chain's final drop stands for: the direction and every policy
/// isolating its pods. Kept beside the ruleset so that drops counted in the kernel are
/// attributed from typed data, never from the drop rule's comment read back (nft clips
/// comments to 127 bytes: six long policy names lost five).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Isolation {
    pub direction: Direction,
    pub policies: Vec<String>,
}

/// A tiered policy's Deny rule, as its drop chain's counter and NFLOG prefix stand for it
/// (typed beside the ruleset, for the same reason as [`Isolation`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TierDrop {
    pub direction: Direction,
    pub tier: Tier,
    /// `cnp/name`, `anp/name` or `banp/name`.
    pub policy: String,
    pub priority: u32,
    /// The rule's name, or its position when unnamed.
    pub rule: String,
}

/// The whole `inet netfence` table.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Ruleset {
    pub sets: BTreeMap<String, SetDef>,
    pub maps: BTreeMap<String, MapDef>,
    /// Base chains first, then policy chains, in a stable order.
    pub chains: Vec<ChainDef>,
    /// Union chain name -> the isolation its drop rule enforces.
    pub isolation: BTreeMap<String, Isolation>,
    /// Chain of a tiered Deny rule's drop -> the rule it stands for.
    pub tier_drops: BTreeMap<String, TierDrop>,
}

/// Sizes, for reports and metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RulesetStats {
    pub chains: usize,
    pub rules: usize,
    pub sets: usize,
    pub maps: usize,
    pub elements: usize,
}

impl Ruleset {
    pub fn stats(&self) -> RulesetStats {
        RulesetStats {
            chains: self.chains.len(),
            rules: self.chains.iter().map(|c| c.rules.len()).sum(),
            sets: self.sets.len(),
            maps: self.maps.len(),
            elements: self.sets.values().map(|s| s.elements.len()).sum::<usize>()
                + self.maps.values().map(|m| m.elements.len()).sum::<usize>(),
        }
    }
}
