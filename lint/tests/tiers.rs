//! The tiered-policy checks (NF801-NF810): for each, an input that triggers it and a
//! close one that does not. Tiered policies are built as values (their YAML decoding is
//! not in the model yet); namespaces, pods and NetworkPolicies are parsed from YAML.

use ipnet::IpNet;
use netfence_lint::{lint, Finding, Ignore, LintConfig, Report, CATALOGUE};
use netfence_model::tier::{
    Node, Tier, TierAction, TierKind, TierPeer, TierPolicy, TierPort, TierRule, TierSubject,
};
use netfence_model::{
    parse_manifest, AddrSet, Cluster, LabelSelector, Labels, Model, Object, Protocol, Source,
};
use std::collections::BTreeMap;

/// shop (team=shop): web (port http 8080) and db (port pg 5432); monitoring: prom.
const BASE: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  containers: [{name: db, ports: [{name: pg, containerPort: 5432}]}]
status: {podIP: 10.244.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: prom, namespace: monitoring, labels: {app: prom}}
status: {podIP: 10.244.2.5}
";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sel(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: labels(pairs),
        ..Default::default()
    }
}

fn ns(name: &str) -> LabelSelector {
    sel(&[("kubernetes.io/metadata.name", name)])
}

fn all() -> LabelSelector {
    LabelSelector::everything()
}

/// A policy of `kind` (its tier follows the kind; ClusterNetworkPolicies are Admin)
/// selecting every pod of namespace shop, without rules, at line `line` of tiers.yaml.
fn tier_policy(kind: TierKind, name: &str, priority: u32, line: usize) -> TierPolicy {
    TierPolicy {
        kind,
        name: name.into(),
        labels: Labels::new(),
        annotations: BTreeMap::new(),
        source: Source::new("tiers.yaml", line),
        tier: match kind {
            TierKind::BaselineAdminNetworkPolicy => Tier::Baseline,
            _ => Tier::Admin,
        },
        priority,
        subject: TierSubject::Namespaces(ns("shop")),
        ingress: Vec::new(),
        egress: Vec::new(),
    }
}

fn anp(name: &str, priority: u32) -> TierPolicy {
    tier_policy(
        TierKind::AdminNetworkPolicy,
        name,
        priority,
        1 + priority as usize,
    )
}

fn banp() -> TierPolicy {
    tier_policy(TierKind::BaselineAdminNetworkPolicy, "default", 0, 100)
}

fn rule(name: &str, action: TierAction, peers: Vec<TierPeer>) -> TierRule {
    TierRule {
        name: name.into(),
        action,
        peers,
        ports: None,
    }
}

fn tcp(port: u16) -> TierPort {
    TierPort::Range {
        protocol: Protocol::Tcp,
        start: port,
        end: port,
    }
}

fn with_ports(mut r: TierRule, ports: Vec<TierPort>) -> TierRule {
    r.ports = Some(ports);
    r
}

fn from_monitoring() -> TierPeer {
    TierPeer::Namespaces(ns("monitoring"))
}

fn from_anywhere() -> TierPeer {
    TierPeer::Namespaces(all())
}

fn run(extra_yaml: &str, tiers: Vec<TierPolicy>, nodes: Vec<Node>, config: &LintConfig) -> Report {
    let text = format!("{BASE}---\n{extra_yaml}");
    let parsed = parse_manifest("base.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let mut objects = parsed.objects;
    objects.extend(tiers.into_iter().map(Object::TierPolicy));
    objects.extend(nodes.into_iter().map(Object::Node));
    let model = Model::compile(Cluster::build(objects));
    lint(&model, &[], config)
}

fn all_on() -> LintConfig {
    LintConfig {
        enable: CATALOGUE.iter().map(|c| c.id).collect(),
        ..LintConfig::default()
    }
}

fn lint_tiers(extra_yaml: &str, tiers: Vec<TierPolicy>) -> Report {
    run(extra_yaml, tiers, Vec::new(), &all_on())
}

fn of<'r>(r: &'r Report, id: &str) -> Vec<&'r Finding> {
    r.findings.iter().filter(|f| f.id() == id).collect()
}

/// The one finding of `id`, about `key`, whose message holds every word of `words`.
fn one<'r>(r: &'r Report, id: &str, key: &str, words: &[&str]) -> &'r Finding {
    let hits = of(r, id);
    assert_eq!(
        hits.len(),
        1,
        "{id}: want one finding, got {:#?}",
        r.findings
    );
    let f = hits[0];
    assert_eq!(f.key, key, "{id}: {}", f.message);
    for w in words {
        assert!(f.message.contains(w), "{id}: {w:?} not in {:?}", f.message);
    }
    f
}

fn none(r: &Report, id: &str) {
    let hits: Vec<&String> = of(r, id).iter().map(|f| &f.message).collect();
    assert!(hits.is_empty(), "{id} should not be found: {hits:#?}");
}

// ---- NF801 equal priorities that overlap ----

fn equal_priority(second_priority: u32, second_peer: TierPeer) -> Vec<TierPolicy> {
    let mut a = anp("a-allow-monitoring", 10);
    a.ingress = vec![rule(
        "allow-prom",
        TierAction::Accept,
        vec![from_monitoring()],
    )];
    let mut b = anp("b-deny", second_priority);
    b.ingress = vec![
        rule(
            "keep-shop",
            TierAction::Accept,
            vec![TierPeer::Namespaces(ns("shop"))],
        ),
        rule("deny-rest", TierAction::Deny, vec![second_peer]),
    ];
    vec![a, b]
}

#[test]
fn nf801_equal_priorities_whose_rules_overlap() {
    let r = lint_tiers("", equal_priority(10, from_anywhere()));
    let f = one(
        &r,
        "NF801",
        "anp/b-deny",
        &[
            "anp/b-deny (Admin tier, priority 10) has the same priority as anp/a-allow-monitoring",
            "Accept rule 'allow-prom' (ingress[0]) of anp/a-allow-monitoring",
            "Deny rule 'deny-rest' (ingress[1]) of anp/b-deny",
            "from monitoring/prom to shop/",
            "undefined upstream",
            "netfence evaluates anp/a-allow-monitoring first (equal priorities go by name)",
            "its Accept wins over the Deny",
            "other implementations may decide otherwise",
        ],
    );
    assert_eq!(f.object, "AdminNetworkPolicy b-deny");
    assert_eq!(f.source, Source::new("tiers.yaml", 11));
    assert_eq!(f.severity(), netfence_lint::Severity::Warning);
}

#[test]
fn nf801_not_for_different_priorities_or_disjoint_peers() {
    none(
        &lint_tiers("", equal_priority(11, from_anywhere())),
        "NF801",
    );
    // Same priority, but b's rules match only traffic from shop, a's only from
    // monitoring: no connection is matched by both.
    none(
        &lint_tiers("", equal_priority(10, TierPeer::Namespaces(ns("shop")))),
        "NF801",
    );
}

#[test]
fn nf801_same_action_says_the_verdict_does_not_change() {
    let mut a = anp("a", 5);
    a.egress = vec![with_ports(
        rule("", TierAction::Deny, vec![from_monitoring()]),
        vec![tcp(9090)],
    )];
    let mut b = anp("b", 5);
    b.egress = vec![rule(
        "deny-monitoring",
        TierAction::Deny,
        vec![from_monitoring()],
    )];
    let r = lint_tiers("", vec![a, b]);
    one(
        &r,
        "NF801",
        "anp/b",
        &[
            "Deny rule egress[0] of anp/a and Deny rule 'deny-monitoring' (egress[0]) of anp/b both match 9090/TCP from shop/",
            "to monitoring/prom",
            "both are Deny, so the verdict is the same here",
        ],
    );
}

// ---- NF802 shadowed rules ----

fn shadow(deny_ports: Option<Vec<TierPort>>) -> Vec<TierPolicy> {
    let mut deny = anp("deny-all", 10);
    let mut d = rule("deny-everyone", TierAction::Deny, vec![from_anywhere()]);
    d.ports = deny_ports;
    deny.ingress = vec![d];
    let mut allow = anp("allow-prom", 20);
    allow.ingress = vec![with_ports(
        rule("scrape", TierAction::Accept, vec![from_monitoring()]),
        vec![tcp(9090)],
    )];
    vec![deny, allow]
}

#[test]
fn nf802_rule_shadowed_by_a_higher_precedence_policy() {
    let r = lint_tiers("", shadow(None));
    one(
        &r,
        "NF802",
        "anp/allow-prom",
        &[
            "Accept rule 'scrape' (ingress[0]) of anp/allow-prom (Admin tier, priority 20) never decides anything",
            "each of its 2 subject pod(s)",
            "decided earlier in the Admin tier by Deny rule 'deny-everyone' (ingress[0]) of anp/deny-all (Admin tier, priority 10)",
            "exact over the input's pods",
        ],
    );
}

#[test]
fn nf802_not_when_the_earlier_rule_leaves_some_port() {
    none(&lint_tiers("", shadow(Some(vec![tcp(80)]))), "NF802");
    // Nor when the earlier rule covers the port but not every peer of the later one.
    let mut v = shadow(None);
    v[0].ingress[0].peers = vec![TierPeer::Namespaces(ns("shop"))];
    none(&lint_tiers("", v), "NF802");
}

#[test]
fn nf802_rule_shadowed_inside_its_policy() {
    let mut p = anp("one", 3);
    p.egress = vec![
        rule(
            "",
            TierAction::Accept,
            vec![TierPeer::Networks(vec!["10.0.0.0/8".parse().unwrap()])],
        ),
        with_ports(
            rule(
                "deny-db-port",
                TierAction::Deny,
                vec![TierPeer::Networks(vec!["10.244.9.0/24".parse().unwrap()])],
            ),
            vec![tcp(5432)],
        ),
    ];
    let r = lint_tiers("", vec![p.clone()]);
    one(
        &r,
        "NF802",
        "anp/one",
        &[
            "Deny rule 'deny-db-port' (egress[1]) of anp/one (Admin tier, priority 3) never decides anything",
            "by Accept rule egress[0] of anp/one",
        ],
    );
    // An address of the second rule's range outside the first's: not shadowed.
    p.egress[1].peers = vec![TierPeer::Networks(vec!["192.0.2.0/24".parse().unwrap()])];
    none(&lint_tiers("", vec![p]), "NF802");
}

#[test]
fn nf802_rule_shadowed_at_node_addresses() {
    // The nodes peer matches the node's address, which the earlier networks peer holds.
    let mut p = anp("nodes", 8);
    p.egress = vec![
        rule(
            "allow-infra",
            TierAction::Accept,
            vec![TierPeer::Networks(vec!["192.168.0.0/16".parse().unwrap()])],
        ),
        rule(
            "deny-workers",
            TierAction::Deny,
            vec![TierPeer::Nodes(sel(&[("role", "worker")]))],
        ),
    ];
    let r = run("", vec![p.clone()], vec![node("n1", "worker")], &all_on());
    one(
        &r,
        "NF802",
        "anp/nodes",
        &[
            "Deny rule 'deny-workers' (egress[1]) of anp/nodes",
            "by Accept rule 'allow-infra' (egress[0]) of anp/nodes",
        ],
    );
    let mut elsewhere = node("n1", "worker");
    elsewhere.addrs = vec!["172.31.0.1".parse().unwrap()];
    none(&run("", vec![p], vec![elsewhere], &all_on()), "NF802");
}

// ---- NF803 Baseline Deny that NetworkPolicy always overrides ----

const NP_ALL_SHOP: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: shop-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}}]
";

fn baseline_deny() -> Vec<TierPolicy> {
    let mut b = banp();
    b.ingress = vec![rule(
        "deny-monitoring",
        TierAction::Deny,
        vec![from_monitoring()],
    )];
    vec![b]
}

#[test]
fn nf803_baseline_deny_of_pods_networkpolicy_isolates() {
    let r = lint_tiers(NP_ALL_SHOP, baseline_deny());
    let f = one(
        &r,
        "NF803",
        "banp/default",
        &[
            "Deny rule 'deny-monitoring' (ingress[0]) of banp/default (Baseline tier) never applies",
            "all 2 subject pod(s) (shop/db, shop/web) are isolated for ingress by NetworkPolicy shop/shop-ingress",
            "the Baseline tier is never consulted",
        ],
    );
    assert_eq!(f.object, "BaselineAdminNetworkPolicy default");
}

#[test]
fn nf803_not_when_some_subject_pod_is_open() {
    let np_db_only = NP_ALL_SHOP.replace(
        "podSelector: {}\n  policyTypes",
        "podSelector: {matchLabels: {app: db}}\n  policyTypes",
    );
    assert_ne!(np_db_only, NP_ALL_SHOP);
    none(&lint_tiers(&np_db_only, baseline_deny()), "NF803");
    // Isolated for egress only: the ingress Deny still applies.
    let egress_only = NP_ALL_SHOP
        .replace("[Ingress]", "[Egress]")
        .replace("ingress:\n  - from", "egress:\n  - to");
    none(&lint_tiers(&egress_only, baseline_deny()), "NF803");
}

// ---- NF804 Pass that changes nothing ----

#[test]
fn nf804_admin_pass_with_nothing_after_it() {
    let mut p = anp("pass-monitoring", 10);
    p.ingress = vec![rule(
        "to-namespaces",
        TierAction::Pass,
        vec![from_monitoring()],
    )];
    let r = lint_tiers("", vec![p.clone()]);
    let f = one(
        &r,
        "NF804",
        "anp/pass-monitoring",
        &[
            "Pass rule 'to-namespaces' (ingress[0]) of anp/pass-monitoring (Admin tier, priority 10) changes nothing for its 2 subject pod(s)",
            "no later Admin rule would Accept or Deny",
            "behaves as no match",
        ],
    );
    assert_eq!(f.severity(), netfence_lint::Severity::Info);
    // A later Deny that would take the same traffic: the Pass matters.
    let mut deny = anp("deny-all", 20);
    deny.ingress = vec![rule("", TierAction::Deny, vec![from_anywhere()])];
    none(&lint_tiers("", vec![p, deny]), "NF804");
}

#[test]
fn nf804_baseline_pass_before_an_accept_or_nothing() {
    let mut b = banp();
    b.ingress = vec![
        rule("pass-monitoring", TierAction::Pass, vec![from_monitoring()]),
        rule("allow-rest", TierAction::Accept, vec![from_anywhere()]),
    ];
    let r = lint_tiers("", vec![b.clone()]);
    one(
        &r,
        "NF804",
        "banp/default",
        &[
            "Pass rule 'pass-monitoring' (ingress[0]) of banp/default (Baseline tier) changes nothing",
            "a Baseline Pass ends in the default allow",
            "no later Baseline rule would Deny",
        ],
    );
    b.ingress[1].action = TierAction::Deny;
    none(&lint_tiers("", vec![b]), "NF804");
}

// ---- NF805 Admin Accept over what NetworkPolicy denies ----

const NP_DB_FROM_WEB: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
";

fn accept_monitoring() -> Vec<TierPolicy> {
    let mut p = anp("allow-monitoring", 10);
    p.ingress = vec![with_ports(
        rule("scrape", TierAction::Accept, vec![from_monitoring()]),
        vec![tcp(5432)],
    )];
    vec![p]
}

#[test]
fn nf805_admin_accept_opens_what_networkpolicy_denies() {
    let r = lint_tiers(NP_DB_FROM_WEB, accept_monitoring());
    let f = one(
        &r,
        "NF805",
        "anp/allow-monitoring",
        &[
            "Accept rule 'scrape' (ingress[0]) of anp/allow-monitoring (Admin tier, priority 10) accepts 5432/TCP from monitoring/prom to shop/db",
            "NetworkPolicy alone would deny (shop/db is isolated for ingress by NetworkPolicy shop/db-from-web)",
            "an Admin Accept is final",
        ],
    );
    assert_eq!(f.severity(), netfence_lint::Severity::Info);
}

#[test]
fn nf805_not_when_networkpolicy_allows_it_too() {
    let allows_monitoring = NP_DB_FROM_WEB.replace(
        "- from: [{podSelector: {matchLabels: {app: web}}}]",
        "- from: [{podSelector: {matchLabels: {app: web}}}, {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]",
    );
    assert_ne!(allows_monitoring, NP_DB_FROM_WEB);
    none(
        &lint_tiers(&allows_monitoring, accept_monitoring()),
        "NF805",
    );
    // No NetworkPolicy at all: nothing to override.
    none(&lint_tiers("", accept_monitoring()), "NF805");
}

// ---- NF806 subject selecting no pod ----

#[test]
fn nf806_subject_selects_no_pod() {
    let mut p = anp("typo", 1);
    p.subject = TierSubject::Pods {
        namespaces: ns("shop"),
        pods: sel(&[("app", "wbe")]),
    };
    let r = lint_tiers("", vec![p.clone()]);
    one(
        &r,
        "NF806",
        "anp/typo",
        &[
            "anp/typo (Admin tier, priority 1): the subject selects no pod of the input",
            "pods app=wbe matches no pod or workload of namespace(s) shop",
        ],
    );
    p.subject = TierSubject::Pods {
        namespaces: ns("shop"),
        pods: sel(&[("app", "web")]),
    };
    none(&lint_tiers("", vec![p.clone()]), "NF806");
    // A namespace named only by name that the input does not hold: not judged.
    p.subject = TierSubject::Namespaces(ns("elsewhere"));
    none(&lint_tiers("", vec![p]), "NF806");
}

#[test]
fn nf806_namespace_label_matching_no_namespace() {
    let mut p = anp("by-team", 1);
    p.subject = TierSubject::Namespaces(sel(&[("team", "shopp")]));
    one(
        &lint_tiers("", vec![p.clone()]),
        "NF806",
        "anp/by-team",
        &["namespaces team=shopp matches none of the 2 namespace(s) of the input"],
    );
    p.subject = TierSubject::Namespaces(sel(&[("team", "shop")]));
    none(&lint_tiers("", vec![p]), "NF806");
}

#[test]
fn nf806_subject_of_hostnetwork_pods_only() {
    let host_pod = "\
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: infra, labels: {app: agent}}
spec:
  hostNetwork: true
  nodeName: n1
status: {podIP: 192.168.0.1}
";
    let mut p = anp("infra", 1);
    p.subject = TierSubject::Namespaces(ns("infra"));
    one(
        &lint_tiers(host_pod, vec![p.clone()]),
        "NF806",
        "anp/infra",
        &["only hostNetwork pods of namespace(s) infra match, and tiered policies never select those"],
    );
    let pod_network = host_pod.replace("  hostNetwork: true\n", "");
    assert_ne!(pod_network, host_pod);
    none(&lint_tiers(&pod_network, vec![p]), "NF806");
}

// ---- NF807 peers selecting nothing ----

#[test]
fn nf807_pods_peer_selects_no_pod() {
    let mut p = anp("egress", 1);
    p.egress = vec![rule(
        "to-db",
        TierAction::Accept,
        vec![
            TierPeer::Namespaces(ns("monitoring")),
            TierPeer::Pods {
                namespaces: ns("shop"),
                pods: sel(&[("app", "dbb")]),
            },
        ],
    )];
    let r = lint_tiers("", vec![p.clone()]);
    one(
        &r,
        "NF807",
        "anp/egress",
        &[
            "Accept rule 'to-db' (egress[0]) of anp/egress (Admin tier, priority 1), peer egress[0].to[1]",
            "the peer selects nothing in the input: pods app=dbb matches no pod or workload of namespace(s) shop",
        ],
    );
    p.egress[0].peers[1] = TierPeer::Pods {
        namespaces: ns("shop"),
        pods: sel(&[("app", "db")]),
    };
    none(&lint_tiers("", vec![p]), "NF807");
}

fn node(name: &str, role: &str) -> Node {
    Node {
        name: name.into(),
        labels: labels(&[("role", role)]),
        addrs: vec!["192.168.0.1".parse().unwrap()],
        source: Source::new("nodes.yaml", 1),
    }
}

#[test]
fn nf807_nodes_peer_matches_no_node() {
    let mut p = anp("to-nodes", 2);
    p.egress = vec![rule(
        "",
        TierAction::Accept,
        vec![TierPeer::Nodes(sel(&[("role", "gateway")]))],
    )];
    let r = run("", vec![p.clone()], vec![node("n1", "worker")], &all_on());
    one(
        &r,
        "NF807",
        "anp/to-nodes",
        &[
            "peer egress[0].to[0]",
            "nodes role=gateway matches none of the 1 node(s) of the input",
        ],
    );
    none(
        &run("", vec![p.clone()], vec![node("n1", "gateway")], &all_on()),
        "NF807",
    );
    // No Node in the input: nothing to judge by.
    none(&run("", vec![p], Vec::new(), &all_on()), "NF807");
}

// ---- NF808 networks covering pods ----

fn to_networks(cidr: &str) -> Vec<TierPolicy> {
    let mut p = anp("deny-private", 4);
    p.egress = vec![rule(
        "no-private",
        TierAction::Deny,
        vec![TierPeer::Networks(vec![cidr.parse::<IpNet>().unwrap()])],
    )];
    vec![p]
}

#[test]
fn nf808_networks_cover_pod_addresses() {
    let r = lint_tiers("", to_networks("10.0.0.0/8"));
    let f = one(
        &r,
        "NF808",
        "anp/deny-private",
        &[
            "Deny rule 'no-private' (egress[0]) of anp/deny-private (Admin tier, priority 4), peer egress[0].to[0]",
            "networks 10.0.0.0/8 also matches 3 pod(s) of the input (monitoring/prom, shop/db, shop/web)",
            "pod-to-pod traffic",
        ],
    );
    assert_eq!(f.severity(), netfence_lint::Severity::Info);
    none(&lint_tiers("", to_networks("192.0.2.0/24")), "NF808");
}

#[test]
fn nf808_networks_overlapping_the_configured_pod_network() {
    let config = LintConfig {
        pod_networks: AddrSet::from_net(&"172.16.0.0/12".parse().unwrap()),
        ..all_on()
    };
    let r = run("", to_networks("172.20.0.0/16"), Vec::new(), &config);
    one(
        &r,
        "NF808",
        "anp/deny-private",
        &["networks 172.20.0.0/16 overlaps the pod network (networks.pods of the lint config)"],
    );
    none(
        &run("", to_networks("192.0.2.0/24"), Vec::new(), &config),
        "NF808",
    );
}

// ---- NF809 named ports no destination defines ----

#[test]
fn nf809_ingress_named_port_no_subject_pod_defines() {
    let mut p = anp("metrics", 6);
    p.ingress = vec![with_ports(
        rule("scrape", TierAction::Accept, vec![from_monitoring()]),
        vec![TierPort::Named("metrics".into())],
    )];
    one(
        &lint_tiers("", vec![p.clone()]),
        "NF809",
        "anp/metrics",
        &[
            "Accept rule 'scrape' (ingress[0]) of anp/metrics (Admin tier, priority 6)",
            "port name metrics is defined by none of the 2 subject pod(s) (shop/db, shop/web)",
            "matches nothing",
        ],
    );
    p.ingress[0].ports = Some(vec![TierPort::Named("http".into())]);
    none(&lint_tiers("", vec![p]), "NF809");
}

#[test]
fn nf809_egress_named_port_no_peer_pod_defines() {
    let mut p = anp("to-db", 6);
    p.subject = TierSubject::Namespaces(ns("monitoring"));
    p.egress = vec![with_ports(
        rule(
            "",
            TierAction::Accept,
            vec![TierPeer::Pods {
                namespaces: ns("shop"),
                pods: sel(&[("app", "db")]),
            }],
        ),
        vec![TierPort::Named("http".into())],
    )];
    one(
        &lint_tiers("", vec![p.clone()]),
        "NF809",
        "anp/to-db",
        &[
            "Accept rule egress[0] of anp/to-db",
            "port name http is defined by none of the 1 destination pod(s) (shop/db)",
        ],
    );
    p.egress[0].ports = Some(vec![TierPort::Named("pg".into())]);
    none(&lint_tiers("", vec![p]), "NF809");
}

// ---- NF810 domainNames ----

#[test]
fn nf810_domain_names_are_not_enforced() {
    let mut p = tier_policy(TierKind::ClusterNetworkPolicy, "egress-fqdn", 30, 7);
    p.egress = vec![rule(
        "to-api",
        TierAction::Accept,
        vec![TierPeer::DomainNames(vec!["api.example.com".into()])],
    )];
    let r = lint_tiers("", vec![p.clone()]);
    let f = one(
        &r,
        "NF810",
        "cnp/egress-fqdn",
        &[
            "Accept rule 'to-api' (egress[0]) of cnp/egress-fqdn (Admin tier, priority 30), peer egress[0].to[0]",
            "domainNames api.example.com are not enforced by netfence",
            "matches nothing",
        ],
    );
    assert_eq!(f.object, "ClusterNetworkPolicy egress-fqdn");
    assert_eq!(f.source, Source::new("tiers.yaml", 7));
    p.egress[0].peers = vec![TierPeer::Networks(vec!["203.0.113.0/24".parse().unwrap()])];
    none(&lint_tiers("", vec![p]), "NF810");
}

// ---- Suppression ----

#[test]
fn tiered_findings_are_suppressed_by_annotation_and_config() {
    let mut p = anp("fqdn", 1);
    p.egress = vec![rule(
        "",
        TierAction::Accept,
        vec![TierPeer::DomainNames(vec!["example.com".into()])],
    )];
    assert_eq!(of(&lint_tiers("", vec![p.clone()]), "NF810").len(), 1);

    let mut annotated = p.clone();
    annotated
        .annotations
        .insert("netfence.io/lint-ignore".into(), "NF999, nf810".into());
    let r = lint_tiers("", vec![annotated]);
    none(&r, "NF810");
    assert_eq!(r.suppressed, 1);

    let config = LintConfig {
        ignore: vec![Ignore {
            id: "NF810",
            object: Some("anp/fqdn".into()),
        }],
        ..all_on()
    };
    let r = run("", vec![p.clone()], Vec::new(), &config);
    none(&r, "NF810");
    assert_eq!(r.suppressed, 1);
    // Another policy's name does not suppress it.
    let config = LintConfig {
        ignore: vec![Ignore {
            id: "NF810",
            object: Some("cnp/fqdn".into()),
        }],
        ..all_on()
    };
    assert_eq!(of(&run("", vec![p], Vec::new(), &config), "NF810").len(), 1);
}

#[test]
fn a_clean_tiered_setup_has_no_tier_finding() {
    // Deny from everywhere but monitoring scraping web's http port, and a Baseline
    // default deny for the namespace NetworkPolicy does not isolate.
    let mut allow = anp("allow-scrape", 10);
    allow.ingress = vec![with_ports(
        rule("scrape", TierAction::Accept, vec![from_monitoring()]),
        vec![TierPort::Named("http".into())],
    )];
    allow.subject = TierSubject::Pods {
        namespaces: ns("shop"),
        pods: sel(&[("app", "web")]),
    };
    let mut b = banp();
    b.ingress = vec![rule(
        "default-deny",
        TierAction::Deny,
        vec![from_anywhere()],
    )];
    let r = lint_tiers("", vec![allow, b]);
    let tier: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.id().starts_with("NF8"))
        .collect();
    assert!(tier.is_empty(), "{tier:#?}");
}
