//! The tiers in the kernel: one chain per [`TierStack`] (the ordered rules of the Admin
//! or Baseline policies selecting a group of pods in one direction), entered by `jump`
//! from a verdict map keyed by pod address, before (Admin) or after (Baseline) the
//! NetworkPolicy dispatch. The order of the stages is the model's
//! (`netfence_model::decision`); this file only writes it down as rules:
//!
//! - Accept: `accept` (final for this direction; the other side's base chain still runs).
//! - Deny: a jump to the rule's drop chain, whose counter and NFLOG prefix name the
//!   policy, tier and rule.
//! - Pass: in the Admin tier `return` (on to NetworkPolicy), in the Baseline tier
//!   `accept` (on to the default allow).
//! - No rule matched: the chain ends and the base chain goes on with the next stage.

use super::{fam_suffix, log_prefix, Renderer, LOG_BURST, LOG_RATE};
use crate::names::NameCollision;
use crate::ruleset::*;
use crate::set_cache::SetSource;
use netfence_model::objects::Direction;
use netfence_model::tier::{Tier, TierAction, TierPeer, TierPort};
use netfence_model::tiers::{TierElement, TierPeerMatch, TierStack};
use netfence_model::{EndpointId, Family};

/// Prefixes of the drop chains of tiered Deny rules; [`super::parse_log_prefix`]
/// reads the direction back from them.
pub const TIER_DROP_INGRESS_PREFIX: &str = "di";
pub const TIER_DROP_EGRESS_PREFIX: &str = "de";

/// The fixed names of the tiers' dispatch maps, per family suffix.
pub fn map_name(tier: Tier, d: Direction, fam: &str) -> String {
    let t = match tier {
        Tier::Admin => "admin",
        Tier::Baseline => "baseline",
    };
    format!("{t}_{}_{fam}", d.as_str())
}

fn chain_prefix(tier: Tier, d: Direction) -> &'static str {
    match (tier, d) {
        (Tier::Admin, Direction::Ingress) => "ai",
        (Tier::Admin, Direction::Egress) => "ae",
        (Tier::Baseline, Direction::Ingress) => "bi",
        (Tier::Baseline, Direction::Egress) => "be",
    }
}

impl Renderer<'_> {
    /// The chain of a tier stack (declared once, however many pods share it).
    pub(super) fn tier_chain(&mut self, stack: &TierStack) -> Result<String, NameCollision> {
        let model = self.model;
        let cluster = &model.cluster;
        let keys: Vec<String> = stack
            .policies
            .iter()
            .map(|p| cluster.tier_policies[p.index()].key())
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (name, _) = self
            .names
            .claim(chain_prefix(stack.tier, stack.direction), &refs)?;
        if self.chains.contains_key(&name) {
            return Ok(name);
        }
        let mut rules = Vec::new();
        for el in &stack.elements {
            rules.extend(self.tier_rules(stack.tier, el)?);
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

    /// The rules of one (rule, peer) element: one per peer alternative and port match,
    /// all with the rule's verdict, so the first that matches decides as the element does.
    fn tier_rules(&mut self, tier: Tier, el: &TierElement) -> Result<Vec<RuleDef>, NameCollision> {
        let model = self.model;
        let policy = &model.cluster.tier_policies[el.policy.index()];
        let verdict = match (el.action, tier) {
            (TierAction::Accept, _) | (TierAction::Pass, Tier::Baseline) => Verdict::Accept,
            (TierAction::Pass, Tier::Admin) => Verdict::Return,
            (TierAction::Deny, _) => Verdict::Jump(self.tier_drop_chain(tier, el)?),
        };
        let comment = format!(
            "{} {} {} {} {}",
            policy.key(),
            tier,
            el.direction,
            policy.rule_label(el.direction, el.rule),
            el.action
        );
        let side = match el.direction {
            Direction::Ingress => Addr::Source,
            Direction::Egress => Addr::Destination,
        };
        let peer = &policy.rules(el.direction)[el.rule].peers[el.peer_index];
        let peers = self.tier_peer_matches(peer, &el.peer, side)?;
        let mut rules = Vec::new();
        let counter = self.opts.counters && verdict == Verdict::Accept;
        let mut push = |matches: Vec<Match>| {
            let mut r = RuleDef::new(matches, verdict.clone()).comment(comment.clone());
            r.counter = counter;
            rules.push(r);
        };
        let Some(ports) = &el.ports else {
            peers.into_iter().for_each(&mut push);
            return Ok(rules);
        };
        let mut alternatives = Vec::new();
        for pm in &peers {
            for port in ports {
                match port {
                    TierPort::Range {
                        protocol,
                        start,
                        end,
                    } => {
                        let mut m = pm.clone();
                        m.push(Match::L4Proto(*protocol));
                        m.push(Match::Dport(*start, *end));
                        alternatives.push(m);
                    }
                    TierPort::Named(pname) => {
                        // The set of the peer alternative's family.
                        for f in self.families.clone() {
                            if family_of(pm).is_some_and(|pf| pf != f) {
                                continue;
                            }
                            let set = self.tier_named_port_set(pname, f)?;
                            let mut m = pm.clone();
                            m.push(Match::DaddrProtoPortInSet(f, set));
                            alternatives.push(m);
                        }
                    }
                }
            }
        }
        alternatives.into_iter().for_each(&mut push);
        Ok(rules)
    }

    /// The matches of a tiered peer, one alternative per family it can hold; none when
    /// it matches nothing (`domainNames`, empty selections).
    fn tier_peer_matches(
        &mut self,
        peer: &TierPeer,
        resolved: &TierPeerMatch,
        side: Addr,
    ) -> Result<Vec<Vec<Match>>, NameCollision> {
        // Sets are named by the peer as written: pod churn changes elements, not names.
        // ("tier " starts no NetworkPolicy peer's key, so the two never share a name.)
        let key = format!("tier {peer:?}");
        match resolved {
            TierPeerMatch::Nothing => Ok(Vec::new()),
            TierPeerMatch::Endpoints(set) => {
                let set = set.clone();
                self.endpoint_set_matches(&key, &set, side, SetSource::Tier, SetSource::Tier)
            }
            TierPeerMatch::Addrs(addrs) => {
                let mut out = Vec::new();
                for f in self.families.clone() {
                    let elements: Vec<Element> = match f {
                        Family::V4 => addrs
                            .v4_ranges()
                            .map(|(a, b)| Element::Range(a.into(), b.into()))
                            .collect(),
                        Family::V6 => addrs
                            .v6_ranges()
                            .map(|(a, b)| Element::Range(a.into(), b.into()))
                            .collect(),
                    };
                    if elements.is_empty() {
                        continue;
                    }
                    let (sname, content) =
                        self.names.claim(&format!("t{}", fam_suffix(f)), &[&key])?;
                    self.cached_set(
                        (&sname, content),
                        SetKind::AddrRange(f),
                        SetSource::Tier,
                        |_| elements,
                    )?;
                    out.push(vec![Match::AddrInSet(f, side, sname)]);
                }
                Ok(out)
            }
        }
    }

    /// `addr . proto . port` of every pod (off the host network) with a container port
    /// of that name, whatever its protocol: a tiered named port resolves on the
    /// destination by name, and its number and protocol come with it.
    fn tier_named_port_set(&mut self, pname: &str, f: Family) -> Result<String, NameCollision> {
        let (sname, content) = self
            .names
            .claim(&format!("tn{}", fam_suffix(f)), &[pname])?;
        self.cached_set(
            (&sname, content),
            SetKind::AddrProtoPort(f),
            SetSource::Tier,
            |r| {
                let mut out = Vec::new();
                for e in &r.model.cluster.endpoints {
                    if !matches!(e.kind, netfence_model::EndpointKind::Pod) {
                        continue;
                    }
                    let ports = netfence_model::tiers::tier_ports(
                        Some(&[TierPort::Named(pname.to_string())]),
                        Some(e),
                    );
                    for proto in netfence_model::Protocol::ALL {
                        for &(lo, hi) in ports.protocol(proto).ranges() {
                            for port in lo..=hi {
                                out.extend(
                                    super::addrs_of(r.model.cluster.endpoint(e.id), f)
                                        .map(|a| Element::AddrProtoPort(a, proto, port)),
                                );
                            }
                        }
                    }
                }
                out
            },
        )?;
        Ok(sname)
    }

    /// The drop chain of a Deny rule: shared by every stack holding the rule, its
    /// counter counts the rule's drops, its NFLOG prefix names the chain, and
    /// `Ruleset::tier_drops` says which policy, tier and rule that is.
    fn tier_drop_chain(&mut self, tier: Tier, el: &TierElement) -> Result<String, NameCollision> {
        let model = self.model;
        let policy = &model.cluster.tier_policies[el.policy.index()];
        let key = policy.key();
        let rule = el.rule.to_string();
        let prefix = match el.direction {
            Direction::Ingress => TIER_DROP_INGRESS_PREFIX,
            Direction::Egress => TIER_DROP_EGRESS_PREFIX,
        };
        let (name, _) = self.names.claim(prefix, &[&key, &rule])?;
        if self.chains.contains_key(&name) {
            return Ok(name);
        }
        let label = policy.rule_label(el.direction, el.rule);
        let mut rules = Vec::new();
        if let Some(group) = self.opts.log_group {
            // Rate-limited in a rule of its own, as for NetworkPolicy drops.
            let mut log = RuleDef::new(Vec::new(), Verdict::Next);
            log.limit = Some((LOG_RATE, LOG_BURST));
            log.log = Some((group, log_prefix(&name)));
            rules.push(log);
        }
        let mut drop = RuleDef::new(Vec::new(), Verdict::Drop)
            .comment(format!("{key} {tier} {} {label} Deny", el.direction));
        drop.counter = self.opts.counters;
        rules.push(drop);
        self.rs.tier_drops.insert(
            name.clone(),
            TierDrop {
                direction: el.direction,
                tier,
                policy: key,
                priority: policy.priority,
                rule: label,
            },
        );
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

    /// Puts a local pod's addresses in the dispatch maps of the tier stacks selecting it.
    pub(super) fn dispatch_tiers(&mut self, e: EndpointId) -> Result<(), NameCollision> {
        let model = self.model;
        for tier in [Tier::Admin, Tier::Baseline] {
            if !self.tier_in_use(tier) {
                continue;
            }
            for d in Direction::BOTH {
                let Some(stack) = model.tiers.stack_of(e, tier, d) else {
                    continue;
                };
                let chain = self.tier_chain(stack)?;
                for &a in &model.cluster.endpoint(e).addrs {
                    let map = map_name(tier, d, fam_suffix(Family::of(&a)));
                    self.rs
                        .maps
                        .get_mut(&map)
                        .expect("declared")
                        .elements
                        .insert(a, chain.clone());
                }
            }
        }
        Ok(())
    }

    /// Does the cluster have policies of `tier`? Only then do its maps and dispatch
    /// rules exist: a cluster without tiers keeps the table (and packet path) it had.
    pub(super) fn tier_in_use(&self, tier: Tier) -> bool {
        tier_in_use(self.model, tier)
    }
}

pub(super) fn tier_in_use(model: &netfence_model::Model, tier: Tier) -> bool {
    model.cluster.tier_policies.iter().any(|p| p.tier == tier)
}

/// The family a peer alternative's address match is of.
fn family_of(pm: &[Match]) -> Option<Family> {
    pm.iter().find_map(|m| match m {
        Match::AddrInSet(f, ..) | Match::AddrNotInSet(f, ..) => Some(*f),
        _ => None,
    })
}
