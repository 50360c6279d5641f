//! The renderer's structure, without a kernel: sharing, named ports, deltas.

use netfence_model::compile_text;
use netfence_nft::ruleset::{Element, Match, Ruleset, SetKind, Verdict};
use netfence_nft::{diff, render_ruleset, Change, NodeView, RenderOptions};

fn model_text(extra: &str) -> String {
    let mut s = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/e2e/model.yaml"
    ))
    .unwrap();
    s.push_str("\n---\n");
    s.push_str(extra);
    s
}

fn render(text: &str, node: Option<&str>) -> Ruleset {
    let model = compile_text("t.yaml", text, "default").unwrap();
    render_ruleset(
        &model,
        &NodeView {
            name: node.map(str::to_string),
            addrs: vec![],
        },
        &RenderOptions::default(),
    )
    .expect("render")
}

fn policy_chains(rs: &Ruleset) -> Vec<&str> {
    rs.chains
        .iter()
        .filter(|c| c.base.is_none())
        .map(|c| c.name.as_str())
        .collect()
}

const DENY_X: &str = "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: deny, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";

#[test]
fn pods_with_the_same_policies_share_one_chain() {
    let rs = render(&model_text(DENY_X), None);
    assert_eq!(
        policy_chains(&rs),
        vec!["in_".to_string() + &policy_chains(&rs)[0][3..]]
    );
    let ingress_v4 = &rs.maps["ingress_v4"];
    assert_eq!(ingress_v4.elements.len(), 3, "x/a, x/b, x/c");
    let targets: std::collections::BTreeSet<&String> = ingress_v4.elements.values().collect();
    assert_eq!(targets.len(), 1);
    assert!(rs.maps["egress_v4"].elements.is_empty());
}

#[test]
fn only_the_nodes_own_pods_are_dispatched() {
    let rs = render(&model_text(DENY_X), Some("node-2"));
    // Only x/c (10.10.0.3) of namespace x runs on node-2.
    let keys: Vec<String> = rs.maps["ingress_v4"]
        .elements
        .keys()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(keys, vec!["10.10.0.3"]);
    let node: Vec<&Element> = rs.sets["node_v4"].elements.iter().collect();
    assert_eq!(node, vec![&Element::Addr("192.168.50.2".parse().unwrap())]);
}

#[test]
fn ingress_named_ports_resolving_differently_get_their_own_chains() {
    let text = "kind: Pod\napiVersion: v1\nmetadata: {name: p1, namespace: \"n\", labels: {app: s}}\nspec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}\nstatus: {podIP: 10.1.0.1}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: p2, namespace: \"n\", labels: {app: s}}\nspec: {containers: [{name: c, ports: [{name: web, containerPort: 8080}]}]}\nstatus: {podIP: 10.1.0.2}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: p3, namespace: \"n\", labels: {app: s}}\nspec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}\nstatus: {podIP: 10.1.0.3}\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: web, namespace: \"n\"}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: web}]}]\n";
    let rs = render(text, None);
    let (unions, policies): (Vec<&str>, Vec<&str>) = policy_chains(&rs)
        .into_iter()
        .partition(|c| c.starts_with("in_"));
    assert_eq!(unions.len(), 2, "p1 and p3 share, p2 differs");
    assert_eq!(
        policies.len(),
        2,
        "the policy's rules for port 80 and for 8080"
    );
    let m = &rs.maps["ingress_v4"].elements;
    let a1 = &m[&"10.1.0.1".parse().unwrap()];
    assert_eq!(a1, &m[&"10.1.0.3".parse().unwrap()]);
    assert_ne!(a1, &m[&"10.1.0.2".parse().unwrap()]);
}

#[test]
fn egress_named_ports_resolve_per_destination_in_a_concatenated_set() {
    let policy = "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]\n    ports: [{port: serve-81-udp, protocol: UDP}]\n";
    let rs = render(&model_text(policy), None);
    let (_, set) = rs
        .sets
        .iter()
        .find(|(_, s)| s.kind == SetKind::AddrProtoPort(netfence_model::Family::V4))
        .expect("a concatenated set");
    let els: Vec<String> = set
        .elements
        .iter()
        .map(netfence_nft::text::element)
        .collect();
    // Every pod defining the port (x/a..c, y/a..c, z/a..c), whatever the peer: the rule
    // matches the peer (namespace y: 10.10.0.4-6) beside it.
    assert_eq!(els.len(), 9, "{els:?}");
    assert!(els.contains(&"10.10.0.4 . udp . 81".to_string()));
    assert!(els.contains(&"10.10.0.1 . udp . 81".to_string()));
    let union = rs
        .chains
        .iter()
        .find(|c| c.name.starts_with("eg_"))
        .unwrap();
    let Verdict::Jump(target) = &union.rules[0].verdict else {
        panic!(
            "the union chain jumps to the policy's chain: {:?}",
            union.rules[0]
        );
    };
    let chain = rs.chains.iter().find(|c| &c.name == target).unwrap();
    let peer = chain
        .rules
        .iter()
        .find_map(|r| match r.matches.as_slice() {
            [Match::AddrInSet(_, _, peer), Match::DaddrProtoPortInSet(..)] => Some(peer),
            _ => None,
        })
        .expect("the peer and the named port, in one rule");
    let peer: Vec<String> = rs.sets[peer]
        .elements
        .iter()
        .map(netfence_nft::text::element)
        .collect();
    assert_eq!(peer, vec!["10.10.0.4", "10.10.0.5", "10.10.0.6"]);
}

/// Issue 9, point 4: a policy's rules are in the ruleset once, however many unions hold
/// it, and no rule carries an anonymous set (one per port range instead): copies and
/// anonymous sets made 10,000 policies load in time quadratic in their number.
#[test]
fn a_policys_rules_are_rendered_once_and_ports_need_no_anonymous_set() {
    let text = "kind: Pod\napiVersion: v1\nmetadata: {name: p1, namespace: \"n\", labels: {app: s, tier: a}}\nstatus: {podIP: 10.1.0.1}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: p2, namespace: \"n\", labels: {app: s, tier: b}}\nstatus: {podIP: 10.1.0.2}\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: shared, namespace: \"n\"}\nspec:\n  podSelector: {matchLabels: {app: s}}\n  ingress: [{ports: [{port: 80}, {port: 443}, {port: 8000, endPort: 8080}, {port: 53, protocol: UDP}]}]\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: only-a, namespace: \"n\"}\nspec:\n  podSelector: {matchLabels: {tier: a}}\n  ingress: [{ports: [{port: 22}]}]\n";
    let rs = render(text, None);
    let unions: Vec<_> = rs
        .chains
        .iter()
        .filter(|c| c.name.starts_with("in_"))
        .collect();
    assert_eq!(
        unions.len(),
        2,
        "{{shared, only-a}} for p1, {{shared}} for p2"
    );
    let policies: Vec<_> = rs
        .chains
        .iter()
        .filter(|c| c.name.starts_with("po_"))
        .collect();
    assert_eq!(policies.len(), 2, "one chain per policy");
    let jumps = |c: &netfence_nft::ruleset::ChainDef| -> Vec<String> {
        c.rules
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Jump(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    };
    let shared = policies
        .iter()
        .find(|c| c.rules.len() == 4)
        .expect("shared: tcp 80, 443, 8000-8080 and udp 53, a rule each");
    for u in &unions {
        assert!(
            jumps(u).contains(&shared.name),
            "{} jumps to shared",
            u.name
        );
        assert!(matches!(u.rules.last().unwrap().verdict, Verdict::Drop));
    }
    let ports: Vec<(u16, u16)> = shared
        .rules
        .iter()
        .flat_map(|r| &r.matches)
        .filter_map(|m| match m {
            Match::Dport(lo, hi) => Some((*lo, *hi)),
            _ => None,
        })
        .collect();
    assert_eq!(ports, vec![(80, 80), (443, 443), (8000, 8080), (53, 53)]);
    // In the JSON nft reads, only the base chains' ICMPv6 types are a set literal.
    let doc = netfence_nft::json::document(&rs).to_string();
    assert_eq!(doc.matches("{\"set\":[").count(), 2, "{doc}");
}

#[test]
fn a_relabelled_pod_is_an_element_delta_and_a_new_policy_a_chain_delta() {
    let policy = "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: from-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n";
    let before = render(&model_text(policy), None);
    assert_eq!(diff(&before, &before), Change::None);
    // x/c becomes a "b": it joins the peer set of from-b.
    let relabelled = model_text(policy).replacen(
        "  name: c\n  namespace: x\n  labels: {pod: c}",
        "  name: c\n  namespace: x\n  labels: {pod: b}",
        1,
    );
    assert_ne!(relabelled, model_text(policy));
    let after = render(&relabelled, None);
    match diff(&before, &after) {
        Change::Delta(d) => {
            assert_eq!(
                d.size(),
                2,
                "both addresses of x/c join the peer set: {d:?}"
            );
            let added: Vec<&Vec<Element>> = d.set_add.values().collect();
            assert_eq!(
                added,
                vec![
                    &vec![Element::Addr("10.10.0.3".parse().unwrap())],
                    &vec![Element::Addr("fd00:10::3".parse().unwrap())]
                ]
            );
        }
        other => panic!("expected a delta, got {other:?}"),
    }
    // A second policy selecting x/a: its chain is now that of both policies; x/b and x/c
    // get a chain of their own. The old chain goes; the peer set stays as it is.
    let more = format!("{policy}---\n{DENY_X}");
    let with_deny = render(&model_text(&more), None);
    match diff(&before, &with_deny) {
        Change::Delta(d) => {
            assert!(d.is_structural());
            assert_eq!(d.chains_new.len(), 2, "{d:?}");
            assert_eq!(d.chains_gone.len(), 1, "{d:?}");
            assert!(d.chains_changed.is_empty() && d.sets_new.is_empty() && d.sets_gone.is_empty());
            assert!(d.set_add.is_empty() && d.set_del.is_empty());
            assert_eq!(
                d.map_add["ingress_v4"].1.len(),
                3,
                "x/a, x/b, x/c dispatch anew"
            );
            // Back again: the mirror image.
            let Change::Delta(back) = diff(&with_deny, &before) else {
                panic!("removing the policy is a delta too")
            };
            assert_eq!((back.chains_new.len(), back.chains_gone.len()), (1, 2));
        }
        other => panic!("expected a chain delta, got {other:?}"),
    }
    // The base chains change (the unprogrammed-pod guard is switched on): replace.
    let model = compile_text("t.yaml", &model_text(policy), "default").unwrap();
    let guarded = render_ruleset(
        &model,
        &NodeView::default(),
        &RenderOptions {
            unprogrammed_guard: vec!["10.10.0.0/24".parse().unwrap()],
            ..RenderOptions::default()
        },
    )
    .expect("render");
    assert_eq!(diff(&before, &guarded), Change::Full);
}

#[test]
fn size_grows_with_policy_unions_not_pods() {
    let mut text = String::from(DENY_X);
    for i in 0..300 {
        text.push_str(&format!(
            "---\nkind: Pod\napiVersion: v1\nmetadata: {{name: p{i}, namespace: x, labels: {{app: a{}}}}}\nstatus: {{podIP: 10.2.{}.{}}}\n",
            i % 3,
            i / 200,
            i % 200 + 1
        ));
    }
    let rs = render(&text, None);
    assert_eq!(policy_chains(&rs).len(), 1);
    assert_eq!(rs.maps["ingress_v4"].elements.len(), 300);
    let rules: usize = rs.chains.iter().map(|c| c.rules.len()).sum();
    let small = render(DENY_X, None);
    let small_rules: usize = small.chains.iter().map(|c| c.rules.len()).sum();
    // One union chain: the own-node accept of each family and the drop.
    assert_eq!(
        rules,
        small_rules + 3,
        "one policy chain whatever the pod count"
    );
}

#[test]
fn a_new_pod_address_is_an_element_delta() {
    let before = render(&model_text(DENY_X), None);
    let moved = model_text(DENY_X).replacen("{ip: 10.10.0.2}", "{ip: 10.10.0.99}", 1);
    assert_ne!(moved, model_text(DENY_X));
    match diff(&before, &render(&moved, None)) {
        Change::Delta(d) => {
            // Out of the pod sets and the ingress map, in again with the new address.
            let removed: Vec<String> = d
                .map_del
                .values()
                .flatten()
                .map(|a| a.to_string())
                .collect();
            assert_eq!(removed, vec!["10.10.0.2"]);
            let added: Vec<String> = d
                .map_add
                .values()
                .flat_map(|(_, pairs)| pairs)
                .map(|(a, _)| a.to_string())
                .collect();
            assert_eq!(added, vec!["10.10.0.99"]);
        }
        other => panic!("expected a delta, got {other:?}"),
    }
}

#[test]
fn a_log_prefix_reads_back_as_its_union_chain_and_direction() {
    use netfence_model::objects::Direction;
    use netfence_nft::render::{log_prefix, parse_log_prefix};
    let rs = render_ruleset(
        &compile_text("t.yaml", &model_text(DENY_X), "default").unwrap(),
        &NodeView::default(),
        &RenderOptions {
            log_group: Some(3),
            ..RenderOptions::default()
        },
    )
    .unwrap();
    let union = rs
        .chains
        .iter()
        .find(|c| c.name.starts_with("in_"))
        .unwrap();
    let logged = union.rules.iter().find_map(|r| r.log.clone()).unwrap();
    assert_eq!(logged, (3, log_prefix(&union.name)));
    assert_eq!(
        parse_log_prefix(&logged.1),
        Some((union.name.as_str(), Direction::Ingress))
    );
    assert_eq!(
        parse_log_prefix("nf eg_x "),
        Some(("eg_x", Direction::Egress))
    );
    for other in ["nf po_x ", "nf in_x", "flagged", "", "nf  "] {
        assert_eq!(parse_log_prefix(other), None, "{other:?}");
    }
}
