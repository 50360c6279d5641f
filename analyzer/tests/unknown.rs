//! Verdicts that depend on what the input does not show: each source of an unknown
//! (a namespace that is only referenced, a template's address, the tiers' ordered
//! rules, stand-ins for operators' pods), and that inputs where everything is known
//! never yield one (randomized, against the matrix's closed-world sets).

use netfence_analyzer::{reach, resolve_target, Flow, Matrix, MatrixPort, Party, Target, Verdict};
use netfence_model::ports::PortRef;
use netfence_model::stand_in::StandInRules;
use netfence_model::{parse_manifest, Cluster, EndpointId, Model, Object, Protocol};
use netfence_synth::{generate, SynthConfig};

fn model_with(text: &str, pod_networks: &[&str], rules: &StandInRules) -> Model {
    let parsed = parse_manifest("t.yaml", text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let mut cluster = Cluster::build_with(parsed.objects, parsed.custom, rules);
    cluster.pod_networks = pod_networks.iter().map(|n| n.parse().unwrap()).collect();
    Model::compile(cluster)
}

fn model(text: &str) -> Model {
    model_with(text, &[], &StandInRules::builtin())
}

fn party(m: &Model, name: &str) -> Party {
    match resolve_target(
        &m.cluster,
        name,
        &netfence_analyzer::NameScope::in_namespace("default"),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
    {
        Target::Endpoints { ids, .. } => Party::Endpoint(ids[0]),
        Target::External(net) => Party::External(net),
        Target::Service(_) => panic!("{name} is a Service"),
    }
}

/// The verdict on a TCP port, and the facts it names.
fn verdict(m: &Model, from: &str, to: &str, port: u16) -> (Verdict, Vec<String>) {
    let r = reach(
        m,
        Flow {
            from: party(m, from),
            to: party(m, to),
            protocol: Some(Protocol::Tcp),
            port: Some(port),
            family: None,
        },
    );
    assert_eq!(r.allowed, r.verdict == Verdict::Allowed);
    assert_eq!(
        r.unknowns.is_empty(),
        r.verdict != Verdict::Unknown,
        "{r:?}"
    );
    (r.verdict, r.unknowns)
}

const SHOP: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: scraper, namespace: ops, labels: {app: scraper}}
status: {podIP: 10.244.2.5}
";

fn ingress_from(ns_selector: &str, port: u16) -> String {
    format!(
        "---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p{port}, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  ingress:
  - from: [{{namespaceSelector: {ns_selector}}}]
    ports: [{{port: {port}}}]
"
    )
}

#[test]
fn a_namespace_only_referenced_has_unknown_labels() {
    let m = model(&format!(
        "{SHOP}{}{}{}{}{}",
        ingress_from("{matchLabels: {team: ops}}", 80),
        ingress_from("{matchLabels: {kubernetes.io/metadata.name: ops}}", 81),
        ingress_from("{}", 82),
        ingress_from(
            "{matchExpressions: [{key: team, operator: DoesNotExist}]}",
            83
        ),
        ingress_from(
            "{matchLabels: {kubernetes.io/metadata.name: other, team: ops}}",
            84
        ),
    ));
    let (v, facts) = verdict(&m, "ops/scraper", "shop/api", 80);
    assert_eq!(v, Verdict::Unknown);
    assert_eq!(
        facts,
        [
            "namespace ops is not in the input, so whether its labels match namespaceSelector \
          team=ops of shop/p80 is unknown; add the Namespace object"
        ]
    );
    // Decided by the one label every namespace has, or by none at all.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 81).0,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 82).0,
        Verdict::Allowed
    );
    // A missing key may be present after all.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 83).0,
        Verdict::Unknown
    );
    // A known label that does not match decides, whatever the others are.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 84).0,
        Verdict::Denied
    );
    // No rule for the port at all: denied, unknown labels or not.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 99).0,
        Verdict::Denied
    );
}

#[test]
fn a_declared_namespace_decides() {
    let m = model(&format!(
        "{SHOP}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ops}}\n{}",
        ingress_from("{matchLabels: {team: ops}}", 80)
    ));
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 80).0,
        Verdict::Denied
    );
}

#[test]
fn a_sure_element_of_the_union_decides_next_to_a_maybe() {
    let m = model(&format!(
        "{SHOP}{}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: by-name, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  ingress:
  - from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: ops}}}}}}]
    ports: [{{port: 80}}]
",
        ingress_from("{matchLabels: {team: ops}}", 80)
    ));
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 80).0,
        Verdict::Allowed
    );
}

const TEMPLATE: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
status: {podIP: 10.244.3.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 10.244.0.0/16}}]
    ports: [{port: 5432}]
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 443}]
";

#[test]
fn a_template_against_an_ip_block_depends_on_the_pod_network() {
    let rules = StandInRules::builtin();
    let at = |nets: &[&str]| {
        verdict(
            &model_with(TEMPLATE, nets, &rules),
            "shop/deploy/web",
            "shop/db",
            5432,
        )
    };
    let (v, facts) = at(&[]);
    assert_eq!(v, Verdict::Unknown);
    assert!(
        facts[0].contains("shop/deploy/web has no known address"),
        "{facts:?}"
    );
    assert!(facts[0].contains("--pod-cidr"), "{facts:?}");
    assert_eq!(at(&["10.244.0.0/16"]).0, Verdict::Allowed);
    assert_eq!(
        at(&["10.244.0.0/17", "10.244.128.0/17"]).0,
        Verdict::Allowed
    );
    assert_eq!(at(&["10.100.0.0/16"]).0, Verdict::Denied);
    let (v, facts) = at(&["10.0.0.0/8"]);
    assert_eq!(v, Verdict::Unknown);
    assert!(facts[0].contains("only partly"), "{facts:?}");
    // An IPv6 pod network says nothing about IPv4 addresses.
    assert_eq!(at(&["fd00::/48"]).0, Verdict::Unknown);
    // A block of every address needs no pod network.
    assert_eq!(
        verdict(
            &model_with(TEMPLATE, &[], &rules),
            "shop/deploy/web",
            "shop/db",
            443
        )
        .0,
        Verdict::Allowed
    );
}

/// An Admin tier: a Deny for pods of namespaces labelled team=ops (which ops, only
/// referenced, may or may not be), then an Accept of everything.
const TIERS: &str = "---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  ingress:
  - name: deny-ops
    action: Deny
    from: [{namespaces: {matchLabels: {team: ops}}}]
    protocols: [{tcp: {destinationPort: {number: 80}}}]
  - name: accept-all
    action: Accept
    from: [{namespaces: {}}]
";

#[test]
fn ordered_tiers_stop_at_a_rule_that_might_match() {
    let m = model(&format!("{SHOP}{TIERS}"));
    let (v, facts) = verdict(&m, "ops/scraper", "shop/api", 80);
    assert_eq!(v, Verdict::Unknown);
    assert!(
        facts[0].contains("namespaces selector team=ops of cnp/guard"),
        "{facts:?}"
    );
    // The maybe rule does not reach port 81: the Accept decides it.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 81).0,
        Verdict::Allowed
    );
}

#[test]
fn outcomes_that_agree_in_every_world_are_known() {
    // A Deny that might match, then one that surely does: denied either way.
    let m = model(&format!(
        "{SHOP}{TIERS}---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: deny-80}}
spec:
  tier: Admin
  priority: 20
  subject: {{namespaces: {{}}}}
  ingress:
  - name: deny-80
    action: Deny
    from: [{{namespaces: {{}}}}]
    protocols: [{{tcp: {{destinationPort: {{number: 80}}}}}}]
"
    ));
    // But guard's accept-all comes before deny-80: when deny-ops does not match, port
    // 80 is accepted there; the ends differ, so it stays unknown.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 80).0,
        Verdict::Unknown
    );
    let m = model(&format!(
        "{SHOP}---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: guard}}
spec:
  tier: Admin
  priority: 10
  subject: {{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: shop}}}}}}
  ingress:
  - name: deny-ops
    action: Deny
    from: [{{namespaces: {{matchLabels: {{team: ops}}}}}}]
  - name: deny-rest
    action: Deny
    from: [{{namespaces: {{}}}}]
    protocols: [{{tcp: {{destinationPort: {{number: 80}}}}}}]
  - name: accept-ops
    action: Accept
    from: [{{namespaces: {{matchLabels: {{team: ops}}}}}}]
"
    ));
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 80).0,
        Verdict::Denied
    );
    // Port 81: denied if ops has team=ops, else no rule matches and the default allows.
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 81).0,
        Verdict::Unknown
    );
    // An Accept that might match, and NetworkPolicy allowing the port anyway: allowed.
    let m = model(&format!(
        "{SHOP}{}---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: maybe-accept}}
spec:
  tier: Admin
  priority: 1
  subject: {{namespaces: {{}}}}
  ingress:
  - name: accept-ops
    action: Accept
    from: [{{namespaces: {{matchLabels: {{team: ops}}}}}}]
",
        ingress_from("{matchLabels: {kubernetes.io/metadata.name: ops}}", 80)
    ));
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 80).0,
        Verdict::Allowed
    );
    assert_eq!(
        verdict(&m, "ops/scraper", "shop/api", 81).0,
        Verdict::Unknown
    );
}

#[test]
fn a_tier_subject_that_might_select_the_pod() {
    let m = model(&format!(
        "{SHOP}---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: lockdown}}
spec:
  tier: Admin
  priority: 5
  subject: {{namespaces: {{matchLabels: {{team: ops}}}}}}
  egress:
  - name: deny-all
    action: Deny
    to: [{{namespaces: {{}}}}]
"
    ));
    let (v, facts) = verdict(&m, "ops/scraper", "shop/api", 80);
    assert_eq!(v, Verdict::Unknown);
    assert!(
        facts[0].contains("subject namespaces selector team=ops"),
        "{facts:?}"
    );
    // shop is declared without team=ops: the policy surely does not apply to it.
    assert_eq!(
        verdict(&m, "shop/api", "ops/scraper", 80).0,
        Verdict::Allowed
    );
}

const PROMETHEUS: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
status: {podIP: 10.244.1.10}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: scrape, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      podSelector: {matchLabels: {app.kubernetes.io/name: prometheus, prometheus: k8s}}
    ports: [{port: 8080}]
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: 9100}]
";

#[test]
fn stand_ins_take_the_place_of_operators_pods() {
    let m = model(PROMETHEUS);
    let e = m
        .cluster
        .endpoint_by_key("monitoring/prometheus/k8s")
        .expect("a stand-in");
    assert!(m.cluster.endpoint(e).addrs.is_empty());
    assert_eq!(
        verdict(&m, "monitoring/prometheus/k8s", "shop/api", 8080).0,
        Verdict::Allowed
    );
    // Its address is as unknown as a template's.
    assert_eq!(
        verdict(&m, "monitoring/prometheus/k8s", "shop/api", 9100).0,
        Verdict::Unknown
    );
    // Without the rule there is no stand-in: shop's peer finds no pod in monitoring, and
    // the note says why that may be.
    let bare = model_with(PROMETHEUS, &[], &StandInRules::none());
    assert!(bare
        .cluster
        .endpoint_by_key("monitoring/prometheus/k8s")
        .is_none());
    assert_eq!(
        verdict(&bare, "shop/api", "shop/api", 8080).0,
        Verdict::Allowed
    );
    let notes = bare.unrepresented_custom_resources();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].why.contains("peer podSelector"), "{notes:?}");
    assert!(notes[0].why.contains("of shop/scrape"), "{notes:?}");
}

#[test]
fn a_custom_resource_without_stand_in_is_noted_where_selectors_find_nothing() {
    // The policy's subject finds no pod in monitoring (shop's peer neither: the first
    // reason found is given).
    let text = format!(
        "{PROMETHEUS}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: prometheus, namespace: monitoring}}
spec:
  podSelector: {{matchLabels: {{app.kubernetes.io/name: prometheus}}}}
  ingress: [{{}}]
"
    );
    let notes = model_with(&text, &[], &StandInRules::none()).unrepresented_custom_resources();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (
            notes[0].namespace.as_str(),
            notes[0].kind.as_str(),
            notes[0].count
        ),
        ("monitoring", "Prometheus", 1)
    );
    assert!(
        notes[0].why.contains("of monitoring/prometheus"),
        "{notes:?}"
    );
    assert!(model(&text).unrepresented_custom_resources().is_empty());
}

/// Synth clusters with every fact known: every referenced namespace declared, no
/// template, no pod without an address. Then no verdict is unknown, and each equals the
/// matrix's (the closed-world sets, which know nothing of unknowns).
#[test]
fn known_inputs_never_yield_unknown() {
    let seeds: u64 = std::env::var("NETFENCE_UNKNOWN_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let cols: Vec<MatrixPort> = [
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 8080),
        (Protocol::Udp, 53),
    ]
    .into_iter()
    .map(|(protocol, p)| MatrixPort {
        port: PortRef::Number(p),
        protocol,
    })
    .collect();
    let mut checked = 0usize;
    for seed in 1..=seeds {
        let config = if seed % 2 == 0 {
            SynthConfig::small(seed)
        } else {
            SynthConfig::small_tiered(seed)
        };
        let parsed = parse_manifest("synth.yaml", &generate(&config), "default");
        assert!(parsed.errors.is_empty(), "seed {seed}: {:?}", parsed.errors);
        let mut objects: Vec<Object> = parsed
            .objects
            .into_iter()
            .filter(|o| match o {
                Object::Workload(_) => false,
                Object::Pod(p) => !p.addrs.is_empty(),
                _ => true,
            })
            .collect();
        let declared = Cluster::build(objects.clone());
        for (i, ns) in declared.namespaces.iter().enumerate() {
            if !declared.labels_known(netfence_model::NamespaceId(i as u32)) {
                objects.push(Object::Namespace(ns.clone()));
            }
        }
        let m = Model::compile(Cluster::build(objects));
        assert!(m.cluster.labels_known.iter().all(|k| *k), "seed {seed}");
        let matrix = Matrix::compute(&m, &cols);
        let n = m.cluster.endpoints.len();
        for (c, col) in cols.iter().enumerate() {
            let PortRef::Number(port) = col.port else {
                unreachable!()
            };
            for s in 0..n {
                for d in 0..n {
                    let r = reach(
                        &m,
                        Flow {
                            from: Party::Endpoint(EndpointId(s as u32)),
                            to: Party::Endpoint(EndpointId(d as u32)),
                            protocol: Some(col.protocol),
                            port: Some(port),
                            family: None,
                        },
                    );
                    assert_ne!(r.verdict, Verdict::Unknown, "seed {seed}: {:?}", r.unknowns);
                    assert_eq!(
                        r.allowed,
                        matrix.allowed(c, s, d),
                        "seed {seed}: {} -> {} on {col}",
                        m.cluster.endpoint_name(EndpointId(s as u32)),
                        m.cluster.endpoint_name(EndpointId(d as u32))
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} pairs checked");
}

#[test]
fn the_matrix_takes_the_pod_network_too() {
    let rules = StandInRules::builtin();
    let cols = [MatrixPort {
        port: PortRef::Number(5432),
        protocol: Protocol::Tcp,
    }];
    for (nets, want) in [
        (&[][..], false),
        (&["10.244.0.0/16"][..], true),
        (&["10.100.0.0/16"][..], false),
    ] {
        let m = model_with(TEMPLATE, nets, &rules);
        let web = party(&m, "shop/deploy/web").endpoint().unwrap().index();
        let db = party(&m, "shop/db").endpoint().unwrap().index();
        let matrix = Matrix::compute(&m, &cols);
        assert_eq!(matrix.allowed(0, web, db), want, "pod network {nets:?}");
        // Where reach knows, it agrees; where it does not, the matrix says denied.
        let (v, _) = verdict(&m, "shop/deploy/web", "shop/db", 5432);
        assert_eq!(v == Verdict::Allowed, want, "pod network {nets:?}");
    }
}
