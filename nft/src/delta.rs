//! What it takes to go from one ruleset to another: nothing, element changes only, or
//! a full replace. A pod created, deleted, relabelled or readdressed changes only set
//! and map elements (names derive from policies and peers, not positions).

use crate::json;
use crate::ruleset::{Element, Ruleset, TABLE};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Delta {
    pub set_del: BTreeMap<String, Vec<Element>>,
    pub set_add: BTreeMap<String, Vec<Element>>,
    pub map_del: BTreeMap<String, Vec<IpAddr>>,
    /// Map elements to add: address -> chain.
    pub map_add: BTreeMap<String, Vec<(IpAddr, String)>>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.set_del.is_empty()
            && self.set_add.is_empty()
            && self.map_del.is_empty()
            && self.map_add.is_empty()
    }

    /// Elements added plus removed.
    pub fn size(&self) -> usize {
        self.set_del.values().map(Vec::len).sum::<usize>()
            + self.set_add.values().map(Vec::len).sum::<usize>()
            + self.map_del.values().map(Vec::len).sum::<usize>()
            + self.map_add.values().map(Vec::len).sum::<usize>()
    }

    /// One transaction: deletions first (a map element re-pointed is deleted, then added).
    pub fn document(&self) -> Value {
        let elem = |name: &str, elem: Vec<Value>| json!({"element": {"family": "inet", "table": TABLE, "name": name, "elem": elem}});
        let mut cmds = Vec::new();
        for (name, els) in &self.set_del {
            let e = els
                .iter()
                .map(|e| serde_json::to_value(json::element(e)).expect("element"))
                .collect();
            cmds.push(json!({ "delete": elem(name, e) }));
        }
        for (name, keys) in &self.map_del {
            let e = keys.iter().map(|a| json!(a.to_string())).collect();
            cmds.push(json!({ "delete": elem(name, e) }));
        }
        for (name, els) in &self.set_add {
            let e = els
                .iter()
                .map(|e| serde_json::to_value(json::element(e)).expect("element"))
                .collect();
            cmds.push(json!({ "add": elem(name, e) }));
        }
        for (name, pairs) in &self.map_add {
            let e = pairs
                .iter()
                .map(|(a, c)| json!([a.to_string(), {"goto": {"target": c}}]))
                .collect();
            cmds.push(json!({ "add": elem(name, e) }));
        }
        json!({ "nftables": cmds })
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change {
    None,
    Delta(Delta),
    /// Chains, rules or set declarations differ: replace the table.
    Full,
}

/// The smallest correct change from `old` (what the kernel holds) to `new`.
pub fn diff(old: &Ruleset, new: &Ruleset) -> Change {
    let same_shape = old.chains == new.chains
        && old.sets.len() == new.sets.len()
        && old
            .sets
            .iter()
            .all(|(n, s)| new.sets.get(n).is_some_and(|t| t.kind == s.kind))
        && old.maps.len() == new.maps.len()
        && old
            .maps
            .iter()
            .all(|(n, m)| new.maps.get(n).is_some_and(|t| t.family == m.family));
    if !same_shape {
        return Change::Full;
    }
    let mut d = Delta::default();
    for (name, s) in &new.sets {
        let o = &old.sets[name];
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
            d.map_add.insert(name.clone(), add);
        }
    }
    if d.is_empty() {
        Change::None
    } else {
        Change::Delta(d)
    }
}
