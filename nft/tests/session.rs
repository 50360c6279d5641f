//! The libnftables context the controller keeps open for element deltas, against the
//! `nft` binary: the same kernel state, the same errors, transactions still atomic.
//! Runs in a network namespace of its own (root).

use netfence_model::compile_text;
use netfence_netns::{NodeSpec, Topology, TopologySpec};
use netfence_nft::apply::normalize_listing;
use netfence_nft::delta::Delta;
use netfence_nft::ruleset::Element;
use netfence_nft::{render_ruleset, Kept, Nft, NodeView, RenderOptions, Ruleset};
use std::net::{Ipv4Addr, Ipv6Addr};

fn demo() -> Ruleset {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/e2e/model.yaml");
    let model = compile_text(
        "model.yaml",
        &std::fs::read_to_string(dir).unwrap(),
        "default",
    )
    .expect("e2e model");
    render_ruleset(&model, &NodeView::default(), &RenderOptions::default()).expect("render")
}

fn node() -> Topology {
    Topology::build(&TopologySpec {
        nodes: vec![NodeSpec::new(
            "node-0",
            Ipv4Addr::new(192, 168, 93, 1),
            Ipv6Addr::new(0xfd00, 0x93, 0, 0, 0, 0, 0, 1),
        )],
    })
    .expect("a node namespace")
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_kept_context_and_the_nft_binary_see_and_leave_the_same_kernel_state() {
    let topo = node();
    let ns = topo.netns("node-0").unwrap();
    let binary = Nft::in_netns(ns);
    let kept = Kept::start(Some(ns)).expect("libnftables loads");

    // No table yet: both say so the same way.
    assert_eq!(kept.nft().list_table().unwrap(), None);
    assert!(!kept.nft().delete_table().unwrap());

    let rs = demo();
    kept.replace(&rs).expect("full replace");
    let listed = kept.nft().list_table().unwrap().expect("table");
    assert_eq!(
        normalize_listing(&listed),
        normalize_listing(&binary.list_table().unwrap().unwrap())
    );

    // A delta: one address in, then out again.
    let set = rs
        .sets
        .iter()
        .find(|(n, s)| n.starts_with("p") && !s.elements.is_empty())
        .map(|(n, _)| n.clone())
        .expect("a peer set");
    let extra = Element::Addr("10.77.0.1".parse().unwrap());
    let mut add = Delta::default();
    add.set_add.insert(set.clone(), vec![extra.clone()]);
    kept.apply_delta(&add).unwrap();
    let seen = binary.list_table().unwrap().unwrap().to_string();
    assert!(
        seen.contains("10.77.0.1"),
        "the binary sees the context's element"
    );

    // Atomic: a transaction whose second half fails leaves no trace of its first.
    let mut bad = Delta::default();
    bad.set_del.insert(
        set.clone(),
        vec![extra.clone(), Element::Addr("10.77.0.2".parse().unwrap())],
    );
    let err = kept
        .apply_delta(&bad)
        .expect_err("deleting a missing element fails");
    assert!(
        err.to_string().contains("No such file or directory"),
        "nft's own error text: {err}"
    );
    assert!(binary
        .list_table()
        .unwrap()
        .unwrap()
        .to_string()
        .contains("10.77.0.1"));

    // The next delta takes it out again, and the binary sees that too.
    let mut del = Delta::default();
    del.set_del.insert(set.clone(), vec![extra.clone()]);
    kept.apply_delta(&del).unwrap();
    assert!(!binary
        .list_table()
        .unwrap()
        .unwrap()
        .to_string()
        .contains("10.77.0.1"));
    assert_eq!(
        normalize_listing(&listed),
        normalize_listing(&binary.list_table().unwrap().unwrap())
    );

    assert!(kept.nft().delete_table().unwrap());
    assert_eq!(binary.list_table().unwrap(), None);
}

#[test]
fn a_context_for_a_missing_namespace_is_an_error_not_a_panic() {
    let err = Kept::start(Some("netfence-no-such-namespace")).expect_err("no namespace");
    assert!(err.contains("netfence-no-such-namespace"), "{err}");
}
