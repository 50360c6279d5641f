//! The checks must catch what they claim to: each test breaks one invariant in an
//! otherwise valid model or ruleset and expects the check to panic.

use netfence_fuzzcheck::{compile, invariants, render};
use netfence_model::{compile_text, Model};
use netfence_nft::NodeView;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Two tenants (namespaces a and b), two pods each on two nodes, and a deny-ingress
/// policy per tenant: two ingress unions, two chains. Plus a hostNetwork pod.
fn model() -> Model {
    let mut text = String::new();
    for (i, ns) in ["a", "b"].into_iter().enumerate() {
        text.push_str(&format!(
            "kind: Namespace\napiVersion: v1\nmetadata: {{name: {ns}}}\n---\n\
             kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {{name: deny, namespace: {ns}}}\n\
             spec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n---\n"
        ));
        for p in 0..2 {
            text.push_str(&format!(
                "kind: Pod\napiVersion: v1\nmetadata: {{name: p{p}, namespace: {ns}}}\n\
                 spec: {{nodeName: n{p}, containers: [{{name: c}}]}}\nstatus: {{podIP: 10.0.{i}.{p}}}\n---\n"
            ));
        }
    }
    // A hostNetwork pod the policy's podSelector matches, which NetworkPolicy never
    // isolates (no union, no dispatch).
    text.push_str(
        "kind: Pod\napiVersion: v1\nmetadata: {name: h, namespace: a}\n\
         spec: {nodeName: n0, hostNetwork: true, containers: [{name: c}]}\n\
         status: {podIP: 192.168.0.9, hostIP: 192.168.0.9}\n",
    );
    compile_text("m.yaml", &text, "default").expect("valid model")
}

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn the_untampered_model_passes() {
    let m = model();
    compile::assert_unions(&m);
    for node in render::node_views(&m) {
        let (rs, _) = render::render_node(&m, &node);
        invariants::assert_dispatch(&m, &node, &rs);
    }
}

#[test]
fn a_union_missing_a_member_is_caught() {
    let mut m = model();
    m.unions[0].members.pop();
    assert!(panics(|| compile::assert_unions(&m)));
}

#[test]
fn a_policy_of_another_namespace_in_a_union_is_caught() {
    let mut m = model();
    let (a, b) = (m.unions[0].policies[0], m.unions[1].policies[0]);
    assert_ne!(a, b);
    m.unions[0].policies.push(b);
    assert!(panics(|| compile::assert_unions(&m)));
}

#[test]
fn a_pod_dispatched_to_another_tenants_chain_is_caught() {
    let m = model();
    let node = NodeView::default();
    let (mut rs, _) = render::render_node(&m, &node);
    let map = rs.maps.get_mut("ingress_v4").expect("ingress map");
    let chains: std::collections::BTreeSet<String> = map.elements.values().cloned().collect();
    assert_eq!(chains.len(), 2, "one chain per namespace");
    let other = chains.iter().next_back().unwrap().clone();
    for c in map.elements.values_mut() {
        *c = other.clone();
    }
    assert!(panics(|| invariants::assert_dispatch(&m, &node, &rs)));
}

#[test]
fn an_undispatched_pod_is_caught() {
    let m = model();
    let node = NodeView::default();
    let (mut rs, _) = render::render_node(&m, &node);
    let map = rs.maps.get_mut("ingress_v4").expect("ingress map");
    let first = *map.elements.keys().next().unwrap();
    map.elements.remove(&first);
    assert!(panics(|| invariants::assert_dispatch(&m, &node, &rs)));
}
