//! Issue 9, point 4: one namespace's policy count must not exhaust the node. Many
//! policies over a few pods of one namespace (so every pod is in hundreds of policies):
//! the ruleset grows linearly with the policies (each policy's rules once, no copies
//! per union), holds no anonymous set but the two ICMPv6 type lists (the kernel's seal
//! check counts every object the replace created, anonymous sets included), and the
//! kernel enforces it as the analyzer answers, probed with real packets. Root.

mod common;

use common::lab::{declared_ports, Lab};
use netfence_model::{compile_text, Model, Protocol};
use netfence_nft::ruleset::Match;
use netfence_nft::{render_ruleset, NodeView, RenderOptions};

/// 12 pods of one namespace (labels `app: a0..a3`, `role: r0..r2`) and `policies`
/// policies: each selects one app or one role and allows ingress from one role on its own port
/// (every seventh on TCP 80, with a range and a UDP port beside it), every fifth also
/// isolates egress and allows it to one app on TCP 80. So TCP 80 is open between some
/// pairs, 443 between none, and every pod is in hundreds of policies.
fn cluster(policies: usize) -> Model {
    let mut text = String::new();
    for i in 0..12 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: big, labels: {{app: a{}, role: r{}}}}}\nspec: {{nodeName: node-0, containers: [{{name: c}}]}}\nstatus: {{podIPs: [{{ip: 10.78.0.{}}}]}}\n---\n",
            i % 4,
            i % 3,
            i + 10
        ));
    }
    for i in 0..policies {
        let port = if i % 7 == 0 { 80 } else { 9000 + i };
        // By app or by role: a pod's union holds the policies of both, so each
        // policy is in several unions.
        let selected = if i % 2 == 0 {
            format!("app: a{}", i % 4)
        } else {
            format!("role: r{}", i % 3)
        };
        let egress = if i % 5 == 0 {
            format!(
                "  egress: [{{to: [{{podSelector: {{matchLabels: {{app: a{}}}}}}}], ports: [{{port: 80}}]}}]\n  policyTypes: [Ingress, Egress]\n",
                (i / 5) % 4
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: pol-{i}, namespace: big}}\nspec:\n  podSelector: {{matchLabels: {{{selected}}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{role: r{}}}}}}}]\n    ports: [{{port: {port}}}, {{port: 20000, endPort: 20010}}, {{port: 53, protocol: UDP}}]\n{egress}---\n",
            (i / 4) % 3
        ));
    }
    compile_text("big.yaml", &text, "default").expect("the test's manifests")
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn many_policies_in_one_namespace_render_linearly_and_load_as_analysed() {
    let node = NodeView {
        name: Some("node-0".into()),
        addrs: vec![],
    };
    let stats = |m: &Model| {
        render_ruleset(m, &node, &RenderOptions::default())
            .expect("render")
            .stats()
    };
    let (small, large) = (cluster(600), cluster(1200));
    let (s, l) = (stats(&small), stats(&large));
    // Twice the policies, at most a little over twice the rules and sets (the old
    // layout copied every policy's rules into each union chain holding it).
    assert!(
        l.rules * 10 <= s.rules * 23,
        "rules {} -> {}: not linear",
        s.rules,
        l.rules
    );
    assert!(l.sets * 10 <= s.sets * 23, "sets {} -> {}", s.sets, l.sets);
    let rs = render_ruleset(&large, &node, &RenderOptions::default()).expect("render");
    // One chain per policy and direction, though every policy is in several unions:
    // its 3 ingress rules (TCP port, TCP range, UDP 53) and 1 egress rule are in the
    // ruleset once.
    let policy_chains: Vec<_> = rs
        .chains
        .iter()
        .filter(|c| c.name.starts_with("po_"))
        .collect();
    assert_eq!(policy_chains.len(), 1200 + 1200 / 5);
    assert_eq!(
        policy_chains.iter().map(|c| c.rules.len()).sum::<usize>(),
        1200 * 3 + 1200 / 5
    );
    let ports = rs
        .chains
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|r| r.matches.iter().any(|m| matches!(m, Match::Dport(..))))
        .count();
    assert!(ports > 0, "the policies have port rules: {rs:?}");

    // The kernel: loaded as one replace, verified by its seal (which would count any
    // anonymous port set), and probed.
    let ports = declared_ports(
        &large,
        &[
            (Protocol::Tcp, 80),
            (Protocol::Tcp, 443),
            (Protocol::Udp, 53),
        ],
        3,
    );
    let lab = Lab::build(&large, &ports, &[]);
    lab.load_full(&large, &RenderOptions::default());
    let (allowed, denied) = lab.assert_agrees(&large, "1,200 policies in one namespace");
    assert!(
        allowed > 0 && denied > 0,
        "{allowed} allowed, {denied} denied"
    );
}
