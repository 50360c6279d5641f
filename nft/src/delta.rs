//! What it takes to go from one ruleset to another: nothing, a delta, or a full
//! replace. A pod created, deleted, relabelled or readdressed changes only set and map
//! elements (names derive from policies and peers, not positions); a policy change
//! adds, refills or deletes the policy chains and peer sets it touches and leaves the
//! rest (at 10k pods, hundreds of thousands of elements) alone. Only a change of the
//! base chains or maps, or of a set's type, replaces the table.

use crate::json;
use crate::ruleset::{ChainDef, Element, MapCall, Ruleset, SetDef, SetKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Delta {
    pub set_del: BTreeMap<String, Vec<Element>>,
    pub set_add: BTreeMap<String, Vec<Element>>,
    pub map_del: BTreeMap<String, Vec<IpAddr>>,
    /// Map elements to add: address -> chain.
    /// Per map: how its elements enter their chains, and the elements to add.
    pub map_add: BTreeMap<String, (MapCall, Vec<(IpAddr, String)>)>,
    /// Sets to create, with their elements.
    pub sets_new: BTreeMap<String, SetDef>,
    /// Sets no rule uses any more, with their kind (a delete names the set's type: the
    /// `nftables` crate's `Set` always carries one).
    pub sets_gone: BTreeMap<String, SetKind>,
    /// Policy chains to create.
    pub chains_new: Vec<ChainDef>,
    /// Policy chains whose rules change: flushed and filled again.
    pub chains_changed: Vec<ChainDef>,
    /// Policy chains no pod dispatches to any more.
    pub chains_gone: Vec<String>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.set_del.is_empty()
            && self.set_add.is_empty()
            && self.map_del.is_empty()
            && self.map_add.is_empty()
            && !self.is_structural()
    }

    /// Does it create, change or delete sets or chains (not only elements)?
    pub fn is_structural(&self) -> bool {
        !(self.sets_new.is_empty()
            && self.sets_gone.is_empty()
            && self.chains_new.is_empty()
            && self.chains_changed.is_empty()
            && self.chains_gone.is_empty())
    }

    /// Elements added plus removed (those of new sets included), plus the sets and
    /// chains created, refilled or deleted.
    pub fn size(&self) -> usize {
        self.set_del.values().map(Vec::len).sum::<usize>()
            + self.set_add.values().map(Vec::len).sum::<usize>()
            + self.map_del.values().map(Vec::len).sum::<usize>()
            + self.map_add.values().map(|(_, v)| v.len()).sum::<usize>()
            + self
                .sets_new
                .values()
                .map(|s| s.elements.len() + 1)
                .sum::<usize>()
            + self.sets_gone.len()
            + self.chains_new.len()
            + self.chains_changed.len()
            + self.chains_gone.len()
    }

    /// The delta's transaction (see [`json::delta_commands`]) as one JSON value, to
    /// show; what reaches the kernel is written command by command.
    pub fn document(&self) -> Value {
        json::document_value(json::delta_commands(self))
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change {
    None,
    /// Boxed: a delta is large next to the other variants.
    Delta(Box<Delta>),
    /// Base chains or maps differ, or a set changes type: replace the table.
    Full,
}

fn base_chains(rs: &Ruleset) -> impl Iterator<Item = &ChainDef> {
    rs.chains.iter().filter(|c| c.base.is_some())
}

/// The policy chains of a ruleset by name.
fn policy_chains(rs: &Ruleset) -> BTreeMap<&str, &ChainDef> {
    rs.chains
        .iter()
        .filter(|c| c.base.is_none())
        .map(|c| (c.name.as_str(), c))
        .collect()
}

/// The smallest correct change from `old` (what the kernel holds) to `new`.
pub fn diff(old: &Ruleset, new: &Ruleset) -> Change {
    let same_frame = base_chains(old).eq(base_chains(new))
        && old.maps.len() == new.maps.len()
        && old.maps.iter().all(|(n, m)| {
            new.maps
                .get(n)
                .is_some_and(|t| t.family == m.family && t.call == m.call)
        })
        && old
            .sets
            .iter()
            .all(|(n, s)| new.sets.get(n).is_none_or(|t| t.kind == s.kind));
    if !same_frame {
        return Change::Full;
    }
    let mut d = Delta::default();
    let (was, is) = (policy_chains(old), policy_chains(new));
    for (name, c) in &is {
        match was.get(name) {
            None => d.chains_new.push((*c).clone()),
            Some(o) if o.rules != c.rules => d.chains_changed.push((*c).clone()),
            Some(_) => {}
        }
    }
    d.chains_gone = was
        .keys()
        .filter(|n| !is.contains_key(*n))
        .map(|n| n.to_string())
        .collect();
    d.sets_gone = old
        .sets
        .iter()
        .filter(|(n, _)| !new.sets.contains_key(*n))
        .map(|(n, s)| (n.clone(), s.kind))
        .collect();
    for (name, s) in &new.sets {
        let Some(o) = old.sets.get(name) else {
            d.sets_new.insert(name.clone(), s.clone());
            continue;
        };
        if std::sync::Arc::ptr_eq(&o.elements, &s.elements) {
            // The same elements, shared (the renderer's cache): nothing to walk.
            continue;
        }
        let del: Vec<Element> = o.elements.difference(&s.elements).cloned().collect();
        let add: Vec<Element> = s.elements.difference(&o.elements).cloned().collect();
        if !del.is_empty() {
            d.set_del.insert(name.clone(), del);
        }
        if !add.is_empty() {
            d.set_add.insert(name.clone(), add);
        }
    }
    for (name, m) in &new.maps {
        let o = &old.maps[name];
        let del: Vec<IpAddr> = o
            .elements
            .iter()
            .filter(|(a, c)| m.elements.get(*a) != Some(*c))
            .map(|(a, _)| *a)
            .collect();
        let add: Vec<(IpAddr, String)> = m
            .elements
            .iter()
            .filter(|(a, c)| o.elements.get(*a) != Some(*c))
            .map(|(a, c)| (*a, c.clone()))
            .collect();
        if !del.is_empty() {
            d.map_del.insert(name.clone(), del);
        }
        if !add.is_empty() {
            d.map_add.insert(name.clone(), (m.call, add));
        }
    }
    if d.is_empty() {
        Change::None
    } else {
        Change::Delta(Box::new(d))
    }
}
