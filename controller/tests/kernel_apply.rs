//! The kernel side of a reconcile, through the libnftables context the controller keeps:
//! a delta the kernel refuses (the table was edited behind our back) falls back to a
//! full replace, and the kernel ends as the new ruleset says. Root; a namespace of its
//! own.

use netfence_model::compile_text;
use netfence_netns::{NodeSpec, Topology, TopologySpec};
use netfence_nft::apply::normalize_listing;
use netfence_nft::ruleset::Element;
use netfence_nft::{bring, Applied};
use netfence_nft::{render_ruleset, Kept, Nft, NodeView, RenderOptions};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_refused_delta_falls_back_to_a_full_replace() {
    let topo = Topology::build(&TopologySpec {
        nodes: vec![NodeSpec::new(
            "node-0",
            Ipv4Addr::new(192, 168, 94, 1),
            Ipv6Addr::new(0xfd00, 0x94, 0, 0, 0, 0, 0, 1),
        )],
    })
    .expect("a node namespace");
    let ns = topo.netns("node-0").unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/e2e/model.yaml"
    ))
    .unwrap();
    let scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/e2e/scenarios/pod-and-namespace-selector.yaml"
    ))
    .unwrap();
    let model = compile_text("m.yaml", &format!("{text}\n---\n{scenario}"), "default").unwrap();
    let old =
        render_ruleset(&model, &NodeView::default(), &RenderOptions::default()).expect("render");
    let kept = Kept::start(Some(ns)).expect("libnftables");
    let binary = Nft::in_netns(ns);
    assert_eq!(bring(&kept, None, &old).unwrap(), Applied::Full);

    // The new ruleset drops one address from a peer set: an element delta.
    let mut new = old.clone();
    let (set, addr) = new
        .sets
        .iter_mut()
        .find(|(n, s)| n.starts_with('p') && !s.elements.is_empty())
        .map(|(n, s)| {
            let first = s.elements.iter().next().unwrap().clone();
            Arc::make_mut(&mut s.elements).remove(&first);
            (n.clone(), first)
        })
        .expect("a peer set with elements");
    let Element::Addr(addr) = addr else {
        panic!("a pod address")
    };

    // Someone removes it first: the delta's delete fails in the kernel.
    binary
        .run_script(&format!("delete element inet netfence {set} {{ {addr} }}"))
        .unwrap();
    assert_eq!(bring(&kept, Some(&old), &new).unwrap(), Applied::Full);
    let after = normalize_listing(&binary.list_table().unwrap().unwrap());
    binary.replace(&new).unwrap();
    assert_eq!(
        after,
        normalize_listing(&binary.list_table().unwrap().unwrap())
    );

    // And the next delta goes through the context again.
    assert_eq!(bring(&kept, Some(&new), &old).unwrap(), Applied::Delta);
    assert!(binary
        .list_table()
        .unwrap()
        .unwrap()
        .to_string()
        .contains(&addr.to_string()));
}
