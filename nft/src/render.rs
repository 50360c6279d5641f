//! The compiled model, seen from one node, as an nftables ruleset.
//!
//! Packet path (see README, "Enforcement"): two base chains on `postrouting`, after
//! kube-proxy's DNAT and before SNAT, check every packet from a local pod against its
//! egress (priority 90) and every packet to a local pod against its ingress (priority
//! 91). `accept` ends only its own base chain, so an allowed egress still meets the
//! ingress check. An `input` chain checks a local pod's egress to the node itself.
//! Pods dispatch to the chain of their policy union through verdict maps keyed by
//! address; pods with the same union (and the same resolved named ports) share a chain.
//! A union chain jumps to one chain per policy, which holds that policy's rules once.

mod tiers;

pub use tiers::{map_name as tier_map_name, TIER_DROP_EGRESS_PREFIX, TIER_DROP_INGRESS_PREFIX};

use crate::names::{Content, NameCollision, Names};
use crate::ruleset::*;
use crate::set_cache::{SetCache, SetSource};
use netfence_model::compile::PeerMatch;
use netfence_model::objects::{Direction, Peer, PortSpec};
use netfence_model::tier::Tier;
use netfence_model::{
    Allow, Endpoint, EndpointId, EndpointSet, Family, Model, PeerId, PeerRef, PolicyId, PortSet,
    Protocol,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Which pods this node enforces, and the node's own addresses.
#[derive(Clone, Debug, Default)]
pub struct NodeView {
    /// The node's name; None enforces every pod of the model (a one-node view).
    pub name: Option<String>,
    /// Addresses traffic from the node itself comes from (hostIP and friends). The
    /// hostIPs of the local pods are added automatically.
    pub addrs: Vec<IpAddr>,
}

#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Count packets on every allow rule and every policy drop.
    pub counters: bool,
    /// Send dropped packets to this NFLOG group (the controller's drop reporter).
    pub log_group: Option<u16>,
    /// The node's pod CIDRs: traffic of an address in them that is not a programmed pod
    /// yet is dropped (closes the start-up gap of new pods; off when empty).
    pub unprogrammed_guard: Vec<ipnet::IpNet>,
}

pub const EGRESS_CHAIN: &str = "egress";
pub const INGRESS_CHAIN: &str = "ingress";
pub const INPUT_CHAIN: &str = "input";
pub const EGRESS_PRIORITY: i32 = 90;
/// Name prefixes of the union chains (`in_...`, `eg_...`).
pub const INGRESS_UNION_PREFIX: &str = "in";
pub const EGRESS_UNION_PREFIX: &str = "eg";

/// The NFLOG prefix of the packets a union chain drops: `nf <chain> `. With
/// [`parse_log_prefix`], the one place that knows its shape.
pub fn log_prefix(chain: &str) -> String {
    format!("nf {chain} ")
}

/// The dropping chain (a union chain, or a tiered Deny rule's drop chain) and
/// direction of an NFLOG prefix [`log_prefix`] wrote; None for any other packet logged
/// to the group.
pub fn parse_log_prefix(prefix: &str) -> Option<(&str, Direction)> {
    let chain = prefix.strip_prefix("nf ")?.strip_suffix(' ')?;
    let (kind, _) = chain.split_once('_')?;
    let direction = match kind {
        INGRESS_UNION_PREFIX | TIER_DROP_INGRESS_PREFIX => Direction::Ingress,
        EGRESS_UNION_PREFIX | TIER_DROP_EGRESS_PREFIX => Direction::Egress,
        _ => return None,
    };
    Some((chain, direction))
}

/// Dropped packets logged per second per policy chain (and burst).
pub const LOG_RATE: u32 = 10;
pub const LOG_BURST: u32 = 20;
pub const INGRESS_PRIORITY: i32 = 91;

fn fam_suffix(f: Family) -> &'static str {
    match f {
        Family::V4 => "v4",
        Family::V6 => "v6",
    }
}

fn addrs_of(e: &Endpoint, f: Family) -> impl Iterator<Item = IpAddr> + '_ {
    e.addrs.iter().copied().filter(move |a| Family::of(a) == f)
}

/// Is this endpoint a pod the node enforces?
pub fn is_local(e: &Endpoint, node: &NodeView) -> bool {
    matches!(e.kind, netfence_model::EndpointKind::Pod)
        && e.on_pod_network()
        && !e.addrs.is_empty()
        && node
            .name
            .as_ref()
            .is_none_or(|n| e.node.as_ref() == Some(n))
}

/// Endpoint indices with the container port a name resolves to on them.
type NamedPorts = std::rc::Rc<Vec<(usize, u16)>>;

struct Renderer<'m> {
    model: &'m Model,
    opts: &'m RenderOptions,
    rs: Ruleset,
    /// Union and policy chains by name.
    chains: BTreeMap<String, ChainDef>,
    universe: BTreeMap<Family, EndpointSet>,
    /// Peers already turned into sets (a peer shared by many chains is built once).
    peer_memo: HashMap<(PeerId, Addr), Vec<Vec<Match>>>,
    named_index: HashMap<(String, Protocol), NamedPorts>,
    /// Address families the cluster uses: peer sets and rules of a family no pod or
    /// ipBlock has would be empty weight on every packet and every nft transaction.
    families: Vec<Family>,
    cache: &'m mut SetCache,
    /// Every name this render hands out, with what it stands for.
    names: Names,
}

impl<'m> Renderer<'m> {
    /// Declares a set whose elements come from the cache or, when not cached, from
    /// `compute`. A name stands for its content (names derive from what defines the
    /// set), so a set declared twice in one render is the same set.
    fn cached_set(
        &mut self,
        (name, content): (&str, Content),
        kind: SetKind,
        source: SetSource,
        compute: impl FnOnce(&mut Self) -> Vec<Element>,
    ) -> Result<(), NameCollision> {
        // The name was claimed for `content` in this render: declared already means the
        // same set.
        if self.rs.sets.contains_key(name) {
            return Ok(());
        }
        let elements = match self.cache.get(name, &content)? {
            Some(elements) => elements.clone(),
            None => {
                // Collected from a sorted run, the tree is built in bulk (inserting one by
                // one dominated render time at 10k pods).
                let elements: Elements = Arc::new(compute(self).into_iter().collect());
                self.cache
                    .insert(name, content, source, kind.family(), elements.clone());
                elements
            }
        };
        self.rs
            .sets
            .insert(name.to_string(), SetDef { kind, elements });
        Ok(())
    }

    /// Adds one element to a set of this render (the small per-node sets).
    fn add(&mut self, name: &str, kind: SetKind, element: Element) {
        Arc::make_mut(&mut self.set(name, kind).elements).insert(element);
    }

    /// Pods a named port of that name and protocol resolves on as a destination, and
    /// the port: computed once per name.
    fn named(&mut self, pname: &str, proto: Protocol) -> NamedPorts {
        let model = self.model;
        self.named_index
            .entry((pname.to_string(), proto))
            .or_insert_with(|| {
                std::rc::Rc::new(
                    model
                        .cluster
                        .endpoints
                        .iter()
                        // Only pods have addresses in the kernel.
                        .filter(|e| matches!(e.kind, netfence_model::EndpointKind::Pod))
                        .filter_map(|e| {
                            let port = e.destination_named_port(pname, proto)?;
                            Some((e.id.index(), port))
                        })
                        .collect(),
                )
            })
            .clone()
    }

    fn set(&mut self, name: &str, kind: SetKind) -> &mut SetDef {
        self.rs
            .sets
            .entry(name.to_string())
            .or_insert_with(|| SetDef {
                kind,
                elements: Elements::default(),
            })
    }

    /// A stable identity for a peer: selectors without namespaceSelector depend on the
    /// policy's namespace.
    fn peer_key(&self, allow: &Allow) -> String {
        let policy = self.model.cluster.policy(allow.policy);
        let Some(pi) = allow.peer_index else {
            return "any".into();
        };
        let peer = &policy.rules(allow.direction)[allow.rule].peers[pi];
        match peer {
            Peer::Selectors {
                namespace: None, ..
            } => format!("{}|{peer}", policy.meta.namespace),
            _ => peer.to_string(),
        }
    }

    /// Endpoints that selectors can choose and that have an address of the family.
    fn universe(&mut self, f: Family) -> &EndpointSet {
        let model = self.model;
        self.universe.entry(f).or_insert_with(|| {
            let n = model.cluster.endpoints.len();
            let mut s = EndpointSet::empty(n);
            for e in &model.cluster.endpoints {
                if e.on_pod_network() && addrs_of(e, f).next().is_some() {
                    s.insert(e.id.index());
                }
            }
            s
        })
    }

    fn addrs_of_set(&self, set: &EndpointSet, f: Family) -> Vec<Element> {
        set.iter()
            .flat_map(|i| addrs_of(self.model.cluster.endpoint(EndpointId(i as u32)), f))
            .map(Element::Addr)
            .collect()
    }

    /// The matches of a set of pods named by `key`, one alternative per family: a set of
    /// its addresses (elements from `source`), or, when it holds most pods, the shared
    /// set of all pods minus a set of those left out (from `left_out_source`).
    fn endpoint_set_matches(
        &mut self,
        key: &str,
        set: &EndpointSet,
        side: Addr,
        source: SetSource,
        left_out_source: SetSource,
    ) -> Result<Vec<Vec<Match>>, NameCollision> {
        let mut out = Vec::new();
        for f in self.families.clone() {
            let universe = self.universe(f).clone();
            let mut chosen = set.clone();
            chosen.intersect_with(&universe);
            if chosen.count() * 2 > universe.count() {
                // Most pods: list the few left out, next to one shared set of all
                // pods, instead of repeating thousands of addresses per peer.
                let all = format!("all_{}", fam_suffix(f));
                let named = (all.as_str(), self.names.claim_fixed(&all)?);
                self.cached_set(named, SetKind::Addr(f), SetSource::AllPods, |r| {
                    r.addrs_of_set(&universe, f)
                })?;
                let (sname, content) = self.names.claim(&format!("x{}", fam_suffix(f)), &[key])?;
                self.cached_set(
                    (&sname, content),
                    SetKind::Addr(f),
                    left_out_source.clone(),
                    |r| {
                        let mut left_out = universe;
                        left_out.subtract(set);
                        r.addrs_of_set(&left_out, f)
                    },
                )?;
                out.push(vec![
                    Match::AddrInSet(f, side, all),
                    Match::AddrNotInSet(f, side, sname),
                ]);
            } else if chosen.count() > 0 || matches!(source, SetSource::Peer(_)) {
                // (An empty selector peer keeps its set: a pod event may fill it in
                // place. A tiered peer is rebuilt with the model, so an empty one has
                // no rule at all.)
                let (sname, content) = self.names.claim(&format!("p{}", fam_suffix(f)), &[key])?;
                self.cached_set((&sname, content), SetKind::Addr(f), source.clone(), |r| {
                    r.addrs_of_set(&chosen, f)
                })?;
                out.push(vec![Match::AddrInSet(f, side, sname)]);
            }
        }
        Ok(out)
    }

    /// The matches of a peer, one alternative per family the peer can hold (a single
    /// empty alternative: any peer).
    fn peer_matches(
        &mut self,
        allow: &Allow,
        side: Addr,
    ) -> Result<Vec<Vec<Match>>, NameCollision> {
        let PeerRef::Peer(pid) = allow.peer else {
            return Ok(vec![Vec::new()]);
        };
        // By peer id: the key string below is the same for every allow of the peer.
        if let Some(m) = self.peer_memo.get(&(pid, side)) {
            return Ok(m.clone());
        }
        let key = self.peer_key(allow);
        let model = self.model;
        let out = match model.peer(pid) {
            PeerMatch::Endpoints(set) => self.endpoint_set_matches(
                &key,
                set,
                side,
                SetSource::Peer(pid),
                SetSource::AllPodsBut(pid),
            )?,
            PeerMatch::Addrs(block) => {
                let f = block.family();
                let (sname, content) = self
                    .names
                    .claim(&format!("b{}", fam_suffix(f)), &[&block.to_string()])?;
                self.cached_set(
                    (&sname, content),
                    SetKind::AddrRange(f),
                    SetSource::Block,
                    |_| match f {
                        Family::V4 => block
                            .addrs
                            .v4_ranges()
                            .map(|(a, b)| Element::Range(a.into(), b.into()))
                            .collect(),
                        Family::V6 => block
                            .addrs
                            .v6_ranges()
                            .map(|(a, b)| Element::Range(a.into(), b.into()))
                            .collect(),
                    },
                )?;
                vec![vec![Match::AddrInSet(f, side, sname)]]
            }
        };
        self.peer_memo.insert((pid, side), out.clone());
        Ok(out)
    }

    /// Set of `addr . proto . port` for a named port resolved on every pod (not on the
    /// host network) that defines it, shared by every rule naming that port: the rule
    /// matches the peer on its own (`ip daddr @peer`), so the set does not depend on
    /// the peer. One set per port name instead of one per peer and port name keeps
    /// both the table's set count and the elements at the number of such pods.
    fn named_port_set(
        &mut self,
        pname: &str,
        proto: Protocol,
        f: Family,
    ) -> Result<String, NameCollision> {
        let (sname, content) = self
            .names
            .claim(&format!("n{}", fam_suffix(f)), &[pname, proto.as_str()])?;
        let source = SetSource::NamedPort(pname.to_string(), proto);
        self.cached_set((&sname, content), SetKind::AddrProtoPort(f), source, |r| {
            let mut elements = Vec::new();
            for &(i, port) in r.named(pname, proto).iter() {
                let e = r.model.cluster.endpoint(EndpointId(i as u32));
                elements.extend(addrs_of(e, f).map(|a| Element::AddrProtoPort(a, proto, port)));
            }
            elements
        })?;
        Ok(sname)
    }

    fn origin(&self, allow: &Allow) -> String {
        let p = self.model.cluster.policy(allow.policy);
        let (list, peers) = match allow.direction {
            Direction::Ingress => ("ingress", "from"),
            Direction::Egress => ("egress", "to"),
        };
        match allow.peer_index {
            Some(i) => format!("{} {list}[{}].{peers}[{i}]", p.key(), allow.rule),
            None => format!("{} {list}[{}]", p.key(), allow.rule),
        }
    }

    /// The rules of one allow element. `member` resolves ingress named ports.
    fn allow_rules(
        &mut self,
        allow: &Allow,
        member: Option<&Endpoint>,
    ) -> Result<Vec<RuleDef>, NameCollision> {
        let side = match allow.direction {
            Direction::Ingress => Addr::Source,
            Direction::Egress => Addr::Destination,
        };
        let origin = self.origin(allow);
        let mut rules = Vec::new();
        let peers = self.peer_matches(allow, side)?;
        // Numeric ports (and, for ingress, named ports resolved on the member itself).
        let mut numeric = PortSet::empty();
        let mut named_egress = Vec::new();
        let all_ports = allow.ports.is_empty();
        for spec in &allow.ports {
            match spec {
                PortSpec::Named { protocol, name } => match allow.direction {
                    Direction::Ingress => {
                        if let Some(p) =
                            member.and_then(|m| m.destination_named_port(name, *protocol))
                        {
                            numeric.add_range(*protocol, p, p);
                        }
                    }
                    Direction::Egress => named_egress.push((name.clone(), *protocol)),
                },
                other => numeric.add(&netfence_model::compile::resolve_ports(
                    std::slice::from_ref(other),
                    None,
                )),
            }
        }
        // One alternative per protocol and port range: no anonymous sets (see
        // `Match::Dport`).
        let mut port_matches: Vec<Vec<Match>> = Vec::new();
        if all_ports {
            port_matches.push(Vec::new());
        } else {
            for proto in Protocol::ALL {
                let ranges = numeric.protocol(proto);
                if ranges.is_empty() {
                    continue;
                }
                if ranges.is_full() {
                    port_matches.push(vec![Match::L4Proto(proto)]);
                } else {
                    for &(lo, hi) in ranges.ranges() {
                        port_matches.push(vec![Match::L4Proto(proto), Match::Dport(lo, hi)]);
                    }
                }
            }
        }
        let mut push = |mut matches: Vec<Match>| {
            let mut r =
                RuleDef::new(std::mem::take(&mut matches), Verdict::Accept).comment(origin.clone());
            r.counter = self.opts.counters;
            rules.push(r);
        };
        for pm in &peers {
            for ports in &port_matches {
                let mut m: Vec<Match> = pm.clone();
                m.extend(ports.iter().cloned());
                push(m);
            }
        }
        for (pname, proto) in named_egress {
            for pm in &peers {
                // The family of the peer's alternative; any peer: each family.
                let family = pm.iter().find_map(|m| match m {
                    Match::AddrInSet(f, ..) | Match::AddrNotInSet(f, ..) => Some(*f),
                    _ => None,
                });
                let families = match family {
                    Some(f) => vec![f],
                    None => self.families.clone(),
                };
                for f in families {
                    let sname = self.named_port_set(&pname, proto, f)?;
                    let mut m = pm.clone();
                    m.push(Match::DaddrProtoPortInSet(f, sname));
                    push(m);
                }
            }
        }
        Ok(rules)
    }

    /// The chain of a policy union (what a pod dispatches to): a jump to the chain of
    /// each policy that allows anything in this direction, then the drop. Policy rules
    /// live once in their policy's chain, however many unions hold the policy: copied
    /// into every union chain, 10,000 policies over 50 pods made a ruleset of millions
    /// of rules.
    fn union_chain(
        &mut self,
        chain: String,
        dir: Direction,
        union: &netfence_model::PolicyUnion,
        member: &Endpoint,
    ) -> Result<(), NameCollision> {
        // The name was claimed for this chain's content: defined already means the same
        // chain.
        if self.chains.contains_key(&chain) {
            return Ok(());
        }
        let mut rules = Vec::new();
        if dir == Direction::Ingress {
            // NetworkPolicy's own exception, so in its stage: after the Admin tier (which
            // sees the node as a peer like any other) and never for a pod NetworkPolicy
            // does not isolate (on to the Baseline tier).
            rules.extend(per_family(|f, s| {
                RuleDef::new(
                    vec![Match::AddrInSet(f, Addr::Source, format!("node_{s}"))],
                    Verdict::Accept,
                )
                .comment("traffic from the pod's own node is always allowed")
            }));
        }
        for &policy in &union.policies {
            let allows: Vec<&Allow> = union.allows.iter().filter(|a| a.policy == policy).collect();
            // A policy that allows nothing in this direction only isolates: the drop
            // below is all it adds.
            if allows.is_empty() {
                continue;
            }
            let target = self.policy_chain(policy, dir, &allows, member)?;
            let key = self.model.cluster.policy(policy).key();
            rules.push(RuleDef::new(Vec::new(), Verdict::Jump(target)).comment(key));
        }
        let names = self.model.policy_keys(union.id);
        self.rs.isolation.insert(
            chain.clone(),
            Isolation {
                direction: dir,
                policies: names.clone(),
            },
        );
        if let Some(group) = self.opts.log_group {
            // Logging is rate-limited in a rule of its own: a limit on the drop rule would
            // let packets over the limit fall through to the base chain's accept.
            let mut log = RuleDef::new(Vec::new(), Verdict::Next);
            log.limit = Some((LOG_RATE, LOG_BURST));
            log.log = Some((group, log_prefix(&chain)));
            rules.push(log);
        }
        let mut drop = RuleDef::new(Vec::new(), Verdict::Drop)
            .comment(format!("{dir} isolated by {}", names.join(",")));
        drop.counter = self.opts.counters;
        rules.push(drop);
        self.chains.insert(
            chain.clone(),
            ChainDef {
                name: chain,
                base: None,
                rules,
            },
        );
        Ok(())
    }

    /// The chain of one policy's allows in one direction (accepts only; no verdict
    /// returns to the union chain). Its name stands for the policy and, on ingress, the
    /// ports its named ports resolve to on the member: members resolving them
    /// differently need chains of their own.
    fn policy_chain(
        &mut self,
        policy: PolicyId,
        dir: Direction,
        allows: &[&Allow],
        member: &Endpoint,
    ) -> Result<String, NameCollision> {
        let mut parts = vec![self.model.cluster.policy(policy).key(), dir.to_string()];
        if dir == Direction::Ingress {
            for allow in allows.iter().filter(|a| a.has_named_ports()) {
                parts.push(format!("{}", allow.ports_for(Some(member))));
            }
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let (name, _) = self.names.claim("po", &refs)?;
        if self.chains.contains_key(&name) {
            return Ok(name);
        }
        let mut rules = Vec::new();
        for allow in allows {
            rules.extend(self.allow_rules(allow, Some(member))?);
        }
        self.chains.insert(
            name.clone(),
            ChainDef {
                name: name.clone(),
                base: None,
                rules,
            },
        );
        Ok(name)
    }
}

/// The key of an ingress chain: its policies and the ports its named ports resolve to
/// on the member (members resolving them differently need different chains).
fn ingress_chain_name(
    names: &mut Names,
    model: &Model,
    union: &netfence_model::PolicyUnion,
    e: &Endpoint,
) -> Result<String, NameCollision> {
    let mut parts = model.policy_keys(union.id);
    for allow in union.allows.iter().filter(|a| a.has_named_ports()) {
        parts.push(format!("{}", allow.ports_for(Some(e))));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(names.claim(INGRESS_UNION_PREFIX, &refs)?.0)
}

fn egress_chain_name(
    names: &mut Names,
    model: &Model,
    union: &netfence_model::PolicyUnion,
) -> Result<String, NameCollision> {
    let parts = model.policy_keys(union.id);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(names.claim(EGRESS_UNION_PREFIX, &refs)?.0)
}

/// Renders the ruleset that enforces the model on `node`. Fails only when two
/// different chains or sets would get one name (see `names`).
pub fn render_ruleset(
    model: &Model,
    node: &NodeView,
    opts: &RenderOptions,
) -> Result<Ruleset, NameCollision> {
    render_cached(model, node, opts, &mut SetCache::default())
}

/// Renders as [`render_ruleset`] does, taking the sets `cache` holds from it and
/// leaving in it the sets of this ruleset. The cache must have been told of every change
/// of the model since it was filled (`SetCache::forget`, or `clear` after a recompile).
pub fn render_cached(
    model: &Model,
    node: &NodeView,
    opts: &RenderOptions,
    cache: &mut SetCache,
) -> Result<Ruleset, NameCollision> {
    render_with_names(model, node, opts, cache, Names::default())
}

/// [`render_cached`] with the names handed out by `names` (tests derive colliding
/// names through it).
pub fn render_with_names(
    model: &Model,
    node: &NodeView,
    opts: &RenderOptions,
    cache: &mut SetCache,
    mut names: Names,
) -> Result<Ruleset, NameCollision> {
    // The fixed names first: no derived name may take one of them.
    for f in Family::ALL {
        for fixed in ["pods", "node", "self", "guard", "all", "egress", "ingress"] {
            names.claim_fixed(&format!("{fixed}_{}", fam_suffix(f)))?;
        }
    }
    for chain in [EGRESS_CHAIN, INGRESS_CHAIN, INPUT_CHAIN, SEAL_SET] {
        names.claim_fixed(chain)?;
    }
    for f in Family::ALL {
        for tier in [Tier::Admin, Tier::Baseline] {
            for d in Direction::BOTH {
                names.claim_fixed(&tier_map_name(tier, d, fam_suffix(f)))?;
            }
        }
    }
    let mut r = Renderer {
        names,
        cache,
        model,
        opts,
        rs: Ruleset::default(),
        chains: BTreeMap::new(),
        universe: BTreeMap::new(),
        peer_memo: HashMap::new(),
        named_index: HashMap::new(),
        families: model.families_in_use(),
    };
    let mut node_addrs: BTreeSet<IpAddr> = node.addrs.iter().copied().collect();
    for f in Family::ALL {
        let s = fam_suffix(f);
        for (set, kind) in [
            (format!("pods_{s}"), SetKind::Addr(f)),
            (format!("node_{s}"), SetKind::Addr(f)),
            (format!("self_{s}"), SetKind::AddrPair(f)),
        ] {
            r.set(&set, kind);
        }
        for m in ["egress", "ingress"] {
            r.rs.maps.insert(
                format!("{m}_{s}"),
                MapDef {
                    family: f,
                    call: MapCall::Goto,
                    elements: BTreeMap::new(),
                },
            );
        }
        for tier in [Tier::Admin, Tier::Baseline] {
            if !r.tier_in_use(tier) {
                continue;
            }
            for d in Direction::BOTH {
                r.rs.maps.insert(
                    tier_map_name(tier, d, s),
                    MapDef {
                        family: f,
                        call: MapCall::Jump,
                        elements: BTreeMap::new(),
                    },
                );
            }
        }
    }
    // In name order, whatever the endpoint numbering (a patched model appends new pods):
    // when two local pods claim one address (reused before the old pod is gone), the
    // same one wins the dispatch maps in every render.
    let mut local: Vec<&Endpoint> = model
        .cluster
        .endpoints
        .iter()
        .filter(|e| is_local(e, node))
        .collect();
    local.sort_by(|a, b| {
        let ns = |e: &Endpoint| &model.cluster.namespace(e.namespace).name;
        (ns(a), &a.name).cmp(&(ns(b), &b.name))
    });
    for e in local {
        node_addrs.extend(e.host_addrs.iter().copied());
        r.dispatch_tiers(e.id)?;
        let egress = match model.subject_isolation(e.id, Direction::Egress).union() {
            Some(u) => {
                let u = model.union(u);
                let c = egress_chain_name(&mut r.names, model, u)?;
                r.union_chain(c.clone(), Direction::Egress, u, e)?;
                Some(c)
            }
            None => None,
        };
        let ingress = match model.subject_isolation(e.id, Direction::Ingress).union() {
            Some(u) => {
                let u = model.union(u);
                let c = ingress_chain_name(&mut r.names, model, u, e)?;
                r.union_chain(c.clone(), Direction::Ingress, u, e)?;
                Some(c)
            }
            None => None,
        };
        for &a in &e.addrs {
            let s = fam_suffix(Family::of(&a));
            r.add(
                &format!("pods_{s}"),
                SetKind::Addr(Family::of(&a)),
                Element::Addr(a),
            );
            r.add(
                &format!("self_{s}"),
                SetKind::AddrPair(Family::of(&a)),
                Element::Pair(a, a),
            );
            if let Some(c) = &egress {
                r.rs.maps
                    .get_mut(&format!("egress_{s}"))
                    .expect("declared")
                    .elements
                    .insert(a, c.clone());
            }
            if let Some(c) = &ingress {
                r.rs.maps
                    .get_mut(&format!("ingress_{s}"))
                    .expect("declared")
                    .elements
                    .insert(a, c.clone());
            }
        }
    }
    for a in node_addrs {
        let f = Family::of(&a);
        r.add(
            &format!("node_{}", fam_suffix(f)),
            SetKind::Addr(f),
            Element::Addr(a),
        );
    }
    let guarded = !opts.unprogrammed_guard.is_empty();
    if guarded {
        for net in &opts.unprogrammed_guard {
            let f = Family::of_net(net);
            r.add(
                &format!("guard_{}", fam_suffix(f)),
                SetKind::AddrRange(f),
                Element::Range(net.network(), net.broadcast()),
            );
        }
        for f in Family::ALL {
            r.set(&format!("guard_{}", fam_suffix(f)), SetKind::AddrRange(f));
        }
    }
    let mut chains = base_chains(
        guarded,
        tiers::tier_in_use(model, Tier::Admin),
        tiers::tier_in_use(model, Tier::Baseline),
    );
    chains.extend(std::mem::take(&mut r.chains).into_values());
    r.rs.chains = chains;
    // Keep only what this ruleset uses: sets of peers gone stay out of the cache.
    let rs = r.rs;
    r.cache.keep_only(|name| rs.sets.contains_key(name));
    Ok(rs)
}

fn per_family(f: impl Fn(Family, &'static str) -> RuleDef) -> Vec<RuleDef> {
    Family::ALL
        .iter()
        .map(|&fam| f(fam, fam_suffix(fam)))
        .collect()
}

/// The base chains. The stages of a direction, in the model's order (see
/// `netfence_model::decision`): the exceptions (established, self), the Admin tier's
/// dispatch (when Admin policies exist), NetworkPolicy's, the Baseline tier's (when
/// Baseline policies exist; only pods NetworkPolicy does not isolate get there, as its
/// union chains end in their drop), then the chain's policy: accept.
fn base_chains(guarded: bool, admin: bool, baseline: bool) -> Vec<ChainDef> {
    let established = || {
        RuleDef::new(
            vec![Match::CtState(vec!["established", "related"])],
            Verdict::Accept,
        )
    };
    let nd = || RuleDef::new(vec![Match::NeighbourDiscovery], Verdict::Accept);
    let invalid = |side: Addr| {
        per_family(move |f, s| {
            RuleDef::new(
                vec![
                    Match::AddrInSet(f, side, format!("pods_{s}")),
                    Match::CtState(vec!["invalid"]),
                ],
                Verdict::Drop,
            )
        })
    };
    let own_traffic = || {
        per_family(|f, s| {
            RuleDef::new(
                vec![Match::PairInSet(f, format!("self_{s}"))],
                Verdict::Accept,
            )
            .comment("a pod may always talk to itself")
        })
    };

    // A pod address of this node that is not programmed yet (in no `pods` set).
    let unprogrammed = |side: Addr| {
        if !guarded {
            return Vec::new();
        }
        per_family(move |f, s| {
            RuleDef::new(
                vec![
                    Match::AddrInSet(f, side, format!("guard_{s}")),
                    Match::AddrNotInSet(f, side, format!("pods_{s}")),
                ],
                Verdict::Drop,
            )
            .comment("pod not programmed yet")
        })
    };

    // The dispatch of one stage: `pre` matched, then the map keyed by `side`.
    let dispatch = |pre: fn(Family, &'static str) -> Vec<Match>,
                    side: Addr,
                    map: &dyn Fn(&'static str) -> String| {
        per_family(|f, s| RuleDef::new(pre(f, s), Verdict::Vmap(f, side, map(s))))
    };
    let nothing: fn(Family, &'static str) -> Vec<Match> = |_, _| Vec::new();
    let to_node: fn(Family, &'static str) -> Vec<Match> =
        |f, s| vec![Match::AddrInSet(f, Addr::Destination, format!("node_{s}"))];
    // The three stages of a direction, each a dispatch.
    let stages = |d: Direction, pre: fn(Family, &'static str) -> Vec<Match>| {
        let side = match d {
            Direction::Ingress => Addr::Destination,
            Direction::Egress => Addr::Source,
        };
        let mut out = Vec::new();
        if admin {
            out.extend(dispatch(pre, side, &|s| tier_map_name(Tier::Admin, d, s)));
        }
        out.extend(dispatch(pre, side, &|s| format!("{d}_{s}")));
        if baseline {
            out.extend(dispatch(pre, side, &|s| {
                tier_map_name(Tier::Baseline, d, s)
            }));
        }
        out
    };

    let mut egress = vec![established()];
    egress.extend(invalid(Addr::Source));
    egress.extend(unprogrammed(Addr::Source));
    egress.extend(own_traffic());
    egress.extend(stages(Direction::Egress, nothing));

    let mut ingress = vec![established()];
    ingress.extend(invalid(Addr::Destination));
    ingress.push(nd());
    ingress.extend(unprogrammed(Addr::Destination));
    ingress.extend(own_traffic());
    ingress.extend(stages(Direction::Ingress, nothing));

    let mut input = vec![established(), nd()];
    input.extend(
        stages(Direction::Egress, to_node)
            .into_iter()
            .map(|r| r.comment("a pod's egress to its node follows its egress policy")),
    );

    vec![
        ChainDef {
            name: EGRESS_CHAIN.into(),
            base: Some(BaseHook {
                hook: Hook::Postrouting,
                priority: EGRESS_PRIORITY,
            }),
            rules: egress,
        },
        ChainDef {
            name: INGRESS_CHAIN.into(),
            base: Some(BaseHook {
                hook: Hook::Postrouting,
                priority: INGRESS_PRIORITY,
            }),
            rules: ingress,
        },
        ChainDef {
            name: INPUT_CHAIN.into(),
            base: Some(BaseHook {
                hook: Hook::Input,
                priority: 0,
            }),
            rules: input,
        },
    ]
}
