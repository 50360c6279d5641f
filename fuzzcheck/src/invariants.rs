//! Target `invariants`: what a rendered ruleset must mean, checked against the model.
//!
//! The dispatch maps are where a hostile tenant would aim: a pod address mapped to a
//! chain other than the one of its own policy union runs someone else's rules (or
//! none). So for every node view, every address of a local pod must dispatch to the
//! chain named for its union, exactly as the model compiled it.

use crate::render::{node_views, render_node};
use netfence_model::objects::Direction;
use netfence_model::{Endpoint, Family, Model};
use netfence_nft::render::is_local;
use netfence_nft::{names, NodeView, Ruleset};
use std::collections::BTreeMap;
use std::net::IpAddr;

fn suffix(f: Family) -> &'static str {
    match f {
        Family::V4 => "v4",
        Family::V6 => "v6",
    }
}

/// The chain `e` must dispatch to in direction `d`, from the model: the union's
/// policies, and for ingress the ports its named ports resolve to on `e` (the name
/// derivation is `names::name`, the one the renderer claims names through).
fn expected_chain(model: &Model, e: &Endpoint, d: Direction) -> Option<String> {
    let u = model.union_of(e.id, d)?;
    let mut parts = model.policy_keys(u.id);
    let prefix = match d {
        Direction::Egress => "eg",
        Direction::Ingress => {
            for a in u.allows.iter().filter(|a| a.has_named_ports()) {
                parts.push(format!("{}", a.ports_for(Some(e))));
            }
            "in"
        }
    };
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(names::name(prefix, &refs))
}

/// Asserts the dispatch maps of `rs` (rendered for `node`) against the model.
pub fn assert_dispatch(model: &Model, node: &NodeView, rs: &Ruleset) {
    // Local pods in the renderer's documented order (namespace, name): when two claim
    // one address, the last one with a union holds the map entry.
    let mut local: Vec<&Endpoint> = model
        .cluster
        .endpoints
        .iter()
        .filter(|e| is_local(e, node))
        .collect();
    local.sort_by_key(|e| (&model.cluster.namespace(e.namespace).name, &e.name));
    for d in Direction::BOTH {
        let map_name = |f: Family| format!("{}_{}", d.as_str(), suffix(f));
        let mut want: BTreeMap<IpAddr, String> = BTreeMap::new();
        for e in &local {
            if let Some(chain) = expected_chain(model, e, d) {
                for &a in &e.addrs {
                    want.insert(a, chain.clone());
                }
            }
        }
        let mut got: BTreeMap<IpAddr, String> = BTreeMap::new();
        for f in Family::ALL {
            if let Some(m) = rs.maps.get(&map_name(f)) {
                assert_eq!(m.family, f, "map {} family", map_name(f));
                for (a, c) in &m.elements {
                    assert_eq!(Family::of(a), f, "{a} in map {}", map_name(f));
                    got.insert(*a, c.clone());
                }
            }
        }
        assert_eq!(got, want, "{d:?} dispatch on {:?}", node.name);
        for chain in got.values() {
            let c = rs.chains.iter().find(|c| &c.name == chain);
            let c = c.unwrap_or_else(|| panic!("dispatch to missing chain {chain}"));
            assert!(c.base.is_none(), "dispatch to base chain {chain}");
        }
    }
    for e in &local {
        for a in &e.addrs {
            let set = format!("pods_{}", suffix(Family::of(a)));
            let held = rs.sets.get(&set).is_some_and(|s| {
                s.elements
                    .contains(&netfence_nft::ruleset::Element::Addr(*a))
            });
            assert!(held, "local pod {} address {a} not in {set}", e.name);
        }
    }
}

/// Compiles `data` and, for every node view: renders it twice (the two must be
/// identical, rulesets and JSON), checks the serialised forms as the `render` target
/// does, and asserts [`assert_dispatch`].
pub fn check(data: &[u8]) {
    let (model, _) = crate::compile::check(data);
    for node in node_views(&model) {
        let (rs, doc) = render_node(&model, &node);
        let (rs2, doc2) = render_node(&model, &node);
        assert!(rs == rs2, "two renders of {:?} differ", node.name);
        assert_eq!(doc, doc2, "two JSON documents of {:?} differ", node.name);
        assert_dispatch(&model, &node, &rs);
    }
}
