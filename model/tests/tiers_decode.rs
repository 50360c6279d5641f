//! ClusterNetworkPolicy (v1alpha2), AdminNetworkPolicy and BaselineAdminNetworkPolicy
//! (v1alpha1) and Node, read from manifests: every peer and port shape to its internal
//! form, and every validation rule of the upstream CRDs refusing its object at the field's
//! path, on the field's line.

use netfence_model::objects::Object;
use netfence_model::selector::{Operator, Requirement};
use netfence_model::tier::{
    Node, Tier, TierAction, TierKind, TierPeer, TierPolicy, TierPort, TierRule, TierSubject,
};
use netfence_model::{parse_manifest, LabelSelector, ManifestError, Protocol};
use std::collections::BTreeSet;
use std::path::Path;

fn objects(text: &str) -> Vec<Object> {
    let m = parse_manifest("t.yaml", text, "shop");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    m.objects
}

fn policy(text: &str) -> TierPolicy {
    match objects(text).as_slice() {
        [Object::TierPolicy(p)] => p.clone(),
        o => panic!("expected one tiered policy, got {o:?}"),
    }
}

/// The one error of `text`, checked to be on the line marked `# <-`.
fn error(text: &str) -> ManifestError {
    let m = parse_manifest("t.yaml", text, "shop");
    assert_eq!(m.errors.len(), 1, "{text}\n{:?}", m.errors);
    assert!(m.objects.is_empty(), "{:?}", m.objects);
    let e = m.errors[0].clone();
    let marked: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("# <-"))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(marked.len(), 1, "mark the offending line of:\n{text}");
    assert_eq!(
        e.location.line, marked[0],
        "{e}\nexpected on line {}:\n{text}",
        marked[0]
    );
    e
}

fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        match_expressions: vec![],
    }
}

fn all() -> LabelSelector {
    LabelSelector::everything()
}

fn range(protocol: Protocol, start: u16, end: u16) -> TierPort {
    TierPort::Range {
        protocol,
        start,
        end,
    }
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

const CNP: &str = "apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: cnp
spec:
  tier: Admin
  priority: 10
  subject:
    namespaces: {}
";

const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: anp
spec:
  priority: 10
  subject:
    namespaces: {}
";

const BANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata:
  name: default
spec:
  subject:
    namespaces: {}
";

#[test]
fn cluster_network_policy_every_peer_and_protocol_shape() {
    let text = "apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: shapes
  namespace: ignored
  labels: {team: net}
spec:
  tier: Admin
  priority: 1000
  subject:
    pods:
      namespaceSelector: {matchLabels: {env: prod}}
      podSelector:
        matchExpressions:
        - {key: app, operator: In, values: [web, api]}
  ingress:
  - name: from-monitoring
    action: Accept
    from:
    - namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
    - pods:
        podSelector: {matchLabels: {app: probe}}
    protocols:
    - tcp: {destinationPort: {number: 8080}}
    - udp: {destinationPort: {range: {start: 5000, end: 5010}}}
    - sctp: {destinationPort: {number: 9003}}
    - destinationNamedPort: metrics
  - action: Pass
    from:
    - pods:
        namespaceSelector: {}
        podSelector: {}
  egress:
  - name: dns-names
    action: Accept
    to:
    - domainNames: ['*.example.com', kubernetes.io.]
  - name: nets
    action: Deny
    to:
    - networks: [10.1.2.3/8, 'fd00::/8', 192.168.0.0/32]
    - nodes: {matchLabels: {node-role.kubernetes.io/control-plane: ''}}
    protocols:
    - tcp: {destinationPort: {range: {start: 1, end: 65535}}}
";
    let p = policy(text);
    let web_api: BTreeSet<String> = ["web".to_string(), "api".to_string()].into();
    let expected = TierPolicy {
        kind: TierKind::ClusterNetworkPolicy,
        name: "shapes".into(),
        labels: [("team".to_string(), "net".to_string())].into(),
        annotations: Default::default(),
        source: p.source.clone(),
        tier: Tier::Admin,
        priority: 1000,
        subject: TierSubject::Pods {
            namespaces: labels(&[("env", "prod")]),
            pods: LabelSelector {
                match_labels: Default::default(),
                match_expressions: vec![Requirement {
                    key: "app".into(),
                    op: Operator::In(web_api),
                }],
            },
        },
        ingress: vec![
            TierRule {
                name: "from-monitoring".into(),
                action: TierAction::Accept,
                peers: vec![
                    TierPeer::Namespaces(labels(&[("kubernetes.io/metadata.name", "monitoring")])),
                    // v1alpha2: no namespaceSelector is every namespace.
                    TierPeer::Pods {
                        namespaces: all(),
                        pods: labels(&[("app", "probe")]),
                    },
                ],
                ports: Some(vec![
                    range(Protocol::Tcp, 8080, 8080),
                    range(Protocol::Udp, 5000, 5010),
                    range(Protocol::Sctp, 9003, 9003),
                    TierPort::Named("metrics".into()),
                ]),
            },
            TierRule {
                name: String::new(),
                action: TierAction::Pass,
                peers: vec![TierPeer::Pods {
                    namespaces: all(),
                    pods: all(),
                }],
                ports: None,
            },
        ],
        egress: vec![
            TierRule {
                name: "dns-names".into(),
                action: TierAction::Accept,
                peers: vec![TierPeer::DomainNames(vec![
                    "*.example.com".into(),
                    "kubernetes.io.".into(),
                ])],
                ports: None,
            },
            TierRule {
                name: "nets".into(),
                action: TierAction::Deny,
                peers: vec![
                    // Host bits are accepted (isCIDR) and masked.
                    TierPeer::Networks(vec![
                        net("10.0.0.0/8"),
                        net("fd00::/8"),
                        net("192.168.0.0/32"),
                    ]),
                    TierPeer::Nodes(labels(&[("node-role.kubernetes.io/control-plane", "")])),
                ],
                ports: Some(vec![range(Protocol::Tcp, 1, 65535)]),
            },
        ],
    };
    assert_eq!(p, expected);
    assert_eq!(p.source.line, 1);
    assert_eq!(p.key(), "cnp/shapes");
}

#[test]
fn cluster_network_policy_baseline_tier_and_empty_rule_lists() {
    let p = policy(
        "apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: base}
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {matchLabels: {a: b}}}
  ingress: []
",
    );
    assert_eq!(p.tier, Tier::Baseline);
    assert_eq!(p.priority, 0);
    assert_eq!(p.subject, TierSubject::Namespaces(labels(&[("a", "b")])));
    assert!(p.ingress.is_empty() && p.egress.is_empty());
}

#[test]
fn admin_network_policy_allow_is_accept_and_every_port_shape() {
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata:
  name: anp
spec:
  priority: 0
  subject:
    pods:
      namespaceSelector: {}
      podSelector: {matchLabels: {app: db}}
  ingress:
  - name: allow-app
    action: Allow
    from:
    - pods:
        namespaceSelector: {matchLabels: {team: a}}
        podSelector: {}
    ports:
    - portNumber: {port: 5432}
    - portNumber: {protocol: UDP, port: 53}
    - portRange: {protocol: SCTP, start: 9000, end: 9005}
    - portRange: {start: 100, end: 200}
    - namedPort: pg
  - {name: pass-rest, action: Pass, from: [{namespaces: {}}]}
  egress:
  - name: out
    action: Allow
    to:
    - networks: [0.0.0.0/0]
    - nodes: {}
    - domainNames: [api.example.com]
  - action: Deny
    to: [{namespaces: {}}]
    ports: [{namedPort: dns}]
";
    let p = policy(text);
    assert_eq!(p.kind, TierKind::AdminNetworkPolicy);
    assert_eq!(p.key(), "anp/anp");
    assert_eq!(p.tier, Tier::Admin);
    assert_eq!(p.priority, 0);
    assert_eq!(
        p.subject,
        TierSubject::Pods {
            namespaces: all(),
            pods: labels(&[("app", "db")])
        }
    );
    assert_eq!(
        p.ingress,
        vec![
            TierRule {
                name: "allow-app".into(),
                action: TierAction::Accept,
                peers: vec![TierPeer::Pods {
                    namespaces: labels(&[("team", "a")]),
                    pods: all()
                }],
                ports: Some(vec![
                    // The protocol defaults to TCP.
                    range(Protocol::Tcp, 5432, 5432),
                    range(Protocol::Udp, 53, 53),
                    range(Protocol::Sctp, 9000, 9005),
                    range(Protocol::Tcp, 100, 200),
                    TierPort::Named("pg".into()),
                ]),
            },
            TierRule {
                name: "pass-rest".into(),
                action: TierAction::Pass,
                peers: vec![TierPeer::Namespaces(all())],
                ports: None,
            },
        ]
    );
    assert_eq!(
        p.egress,
        vec![
            TierRule {
                name: "out".into(),
                action: TierAction::Accept,
                peers: vec![
                    TierPeer::Networks(vec![net("0.0.0.0/0")]),
                    TierPeer::Nodes(all()),
                    TierPeer::DomainNames(vec!["api.example.com".into()]),
                ],
                ports: None,
            },
            // A named port with a pods-only peer is fine in egress.
            TierRule {
                name: String::new(),
                action: TierAction::Deny,
                peers: vec![TierPeer::Namespaces(all())],
                ports: Some(vec![TierPort::Named("dns".into())]),
            },
        ]
    );
}

#[test]
fn baseline_admin_network_policy() {
    let p = policy(
        "apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {env: dev}}}
  ingress:
  - {action: Allow, from: [{namespaces: {matchLabels: {env: dev}}}]}
  - {action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {}}}]}
  egress:
  - action: Deny
    to: [{networks: ['::/0']}, {nodes: {matchLabels: {a: b}}}]
    ports: [{portRange: {protocol: UDP, start: 1, end: 1024}}]
",
    );
    assert_eq!(p.kind, TierKind::BaselineAdminNetworkPolicy);
    assert_eq!(p.key(), "banp/default");
    assert_eq!(p.tier, Tier::Baseline);
    assert_eq!(p.priority, 0);
    let actions: Vec<TierAction> = p.ingress.iter().map(|r| r.action).collect();
    assert_eq!(actions, vec![TierAction::Accept, TierAction::Deny]);
    assert_eq!(
        p.ingress[1].peers,
        vec![TierPeer::Pods {
            namespaces: all(),
            pods: all()
        }]
    );
    assert_eq!(
        p.egress[0].peers,
        vec![
            TierPeer::Networks(vec![net("::/0")]),
            TierPeer::Nodes(labels(&[("a", "b")]))
        ]
    );
    assert_eq!(p.egress[0].ports, Some(vec![range(Protocol::Udp, 1, 1024)]));
}

#[test]
fn nodes_keep_labels_and_ip_addresses() {
    let o = objects(
        "apiVersion: v1
kind: Node
metadata:
  name: node-1
  namespace: Not-A-Namespace
  labels: {kubernetes.io/os: linux, topology.kubernetes.io/zone: z1}
status:
  addresses:
  - {type: InternalIP, address: 192.168.90.1}
  - {type: Hostname, address: node-1}
  - {type: InternalDNS, address: node-1.internal}
  - {type: ExternalIP, address: 203.0.113.7}
  - {type: InternalIP, address: 'fd00::1'}
  - {type: ExternalIP, address: 192.168.90.1}
  - {type: InternalIP, address: not-an-ip}
",
    );
    let [Object::Node(n)] = o.as_slice() else {
        panic!("{o:?}")
    };
    assert_eq!(
        n,
        &Node {
            name: "node-1".into(),
            labels: [
                ("kubernetes.io/os".to_string(), "linux".to_string()),
                ("topology.kubernetes.io/zone".to_string(), "z1".to_string()),
            ]
            .into(),
            addrs: vec![
                "192.168.90.1".parse().unwrap(),
                "203.0.113.7".parse().unwrap(),
                "fd00::1".parse().unwrap(),
            ],
            source: n.source.clone(),
        }
    );
    assert_eq!(o[0].describe(), "Node node-1");
    // No status: no addresses.
    let o = objects("apiVersion: v1\nkind: Node\nmetadata: {name: bare}\n");
    let [Object::Node(n)] = o.as_slice() else {
        panic!("{o:?}")
    };
    assert!(n.addrs.is_empty());
}

#[test]
fn node_names_and_labels_are_checked() {
    let e = error("apiVersion: v1\nkind: Node\nmetadata:\n  name: Node_1 # <-\n");
    assert!(
        e.to_string()
            .starts_with("t.yaml:4: Node Node_1: metadata.name: \"Node_1\""),
        "{e}"
    );
    let e = error(
        // A key that cannot be written plainly is found by its mapping's key.
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels: # <-\n    bad key: x\n",
    );
    assert!(e.message.contains("metadata.labels"), "{e}");
}

#[test]
fn cluster_scoped_kinds_ignore_namespaces() {
    // The API server clears metadata.namespace on cluster-scoped objects before it
    // validates them, so an invalid one is no error and the default namespace is unused.
    let p = policy(&CNP.replace("  name: cnp\n", "  name: cnp\n  namespace: Bad_NS\n"));
    assert_eq!(p.name, "cnp");
    let e = error(&format!(
        "{}  ingress:\n  - action: Allowed # <-\n    from: [{{namespaces: {{}}}}]\n",
        CNP.replace("  name: cnp\n", "  name: cnp\n  namespace: shop\n")
    ));
    assert_eq!(e.object.as_deref(), Some("ClusterNetworkPolicy cnp"), "{e}");
}

#[test]
fn lists_hold_the_tiered_kinds() {
    let text = "apiVersion: v1
kind: List
items:
- apiVersion: policy.networking.k8s.io/v1alpha2
  kind: ClusterNetworkPolicy
  metadata: {name: a}
  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}
- apiVersion: policy.networking.k8s.io/v1alpha1
  kind: AdminNetworkPolicy
  metadata: {name: b}
  spec: {priority: 2, subject: {namespaces: {}}}
- apiVersion: policy.networking.k8s.io/v1alpha1
  kind: BaselineAdminNetworkPolicy
  metadata: {name: default}
  spec: {subject: {namespaces: {}}}
- apiVersion: v1
  kind: Node
  metadata: {name: n1}
  status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}
- apiVersion: policy.networking.k8s.io/v1alpha1
  kind: AdminNetworkPolicy
  metadata: {name: c}
  spec: {priority: 2000, subject: {namespaces: {}}}
";
    let m = parse_manifest("l.yaml", text, "shop");
    let found: Vec<(String, usize)> = m
        .objects
        .iter()
        .map(|o| (o.describe(), o.source().line))
        .collect();
    assert_eq!(
        found,
        vec![
            ("ClusterNetworkPolicy a".to_string(), 4),
            ("AdminNetworkPolicy b".to_string(), 8),
            ("BaselineAdminNetworkPolicy default".to_string(), 12),
            ("Node n1".to_string(), 16),
        ]
    );
    assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
    assert_eq!(
        m.errors[0].to_string(),
        "l.yaml:23: AdminNetworkPolicy c: spec.priority: priority 2000 is out of range 0-1000"
    );
    // A typed list's items carry no kind; the list's gives it.
    let typed = "apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicyList
items:
- metadata: {name: x}
  spec: {tier: Baseline, priority: 5, subject: {namespaces: {}}}
";
    let p = policy(typed);
    assert_eq!(
        (p.name.as_str(), p.tier, p.priority),
        ("x", Tier::Baseline, 5)
    );
}

#[test]
fn other_api_versions_are_other_resources() {
    let text = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: a}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: AdminNetworkPolicy
metadata: {name: b}
---
apiVersion: example.com/v1
kind: Node
metadata: {name: c}
";
    let m = parse_manifest("v.yaml", text, "shop");
    assert!(m.errors.is_empty() && m.objects.is_empty(), "{m:?}");
    let skipped: Vec<(&str, usize)> = m.skipped.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        skipped,
        vec![
            ("AdminNetworkPolicy (policy.networking.k8s.io/v1alpha2)", 1),
            (
                "ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha1)",
                1
            ),
            ("Node (example.com/v1)", 1),
        ]
    );
}

#[test]
fn limits_at_their_bounds_are_accepted() {
    // 25 rules of 25 peers and 25 protocols (v1alpha2), 100 of each (v1alpha1), a name
    // of 100 characters, 25 CIDRs of 43 characters at most.
    let peers25 = vec!["{namespaces: {}}"; 25].join(", ");
    let protos25: Vec<String> = (1..=25)
        .map(|i| format!("{{tcp: {{destinationPort: {{number: {i}}}}}}}"))
        .collect();
    let name100 = "n".repeat(100);
    let mut text = format!("{CNP}  ingress:\n");
    for _ in 0..25 {
        text += &format!(
            "  - {{name: {name100}, action: Deny, from: [{peers25}], protocols: [{}]}}\n",
            protos25.join(", ")
        );
    }
    let nets: Vec<String> = (0..24)
        .map(|i| format!("'10.{i}.0.0/16'"))
        .chain(["'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'".to_string()])
        .collect();
    text += &format!(
        "  egress:\n  - {{action: Deny, to: [{{networks: [{}]}}]}}\n",
        nets.join(", ")
    );
    let p = policy(&text);
    assert_eq!(p.ingress.len(), 25);
    assert!(p.ingress.iter().all(|r| r.peers.len() == 25
        && r.ports.as_ref().map(Vec::len) == Some(25)
        && r.name.len() == 100));
    let TierPeer::Networks(n) = &p.egress[0].peers[0] else {
        panic!()
    };
    assert_eq!(n.len(), 25);

    let peers100 = vec!["{namespaces: {}}"; 100].join(", ");
    let ports100: Vec<String> = (1..=100)
        .map(|i| format!("{{portNumber: {{port: {i}}}}}"))
        .collect();
    let mut text = format!("{ANP}  egress:\n");
    for _ in 0..100 {
        text += &format!(
            "  - {{action: Deny, to: [{peers100}], ports: [{}]}}\n",
            ports100.join(", ")
        );
    }
    let p = policy(&text);
    assert_eq!(p.egress.len(), 100);
    assert!(p
        .egress
        .iter()
        .all(|r| r.peers.len() == 100 && r.ports.as_ref().map(Vec::len) == Some(100)));
}

#[test]
fn every_policy_of_the_upstream_conformance_suite_decodes() {
    // testdata/tiers-conformance holds the upstream suite's policies (v0.2.0 and v0.1.8):
    // all of them are objects the API server admits, so all must decode.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/tiers-conformance");
    let mut decoded = 0;
    for version in ["v1alpha1", "v1alpha2"] {
        for entry in std::fs::read_dir(root.join(version)).unwrap() {
            let path = entry.unwrap().path();
            let file: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut objects: Vec<serde_yaml::Value> =
                file["policies"].as_sequence().cloned().unwrap_or_default();
            for step in file["steps"].as_sequence().into_iter().flatten() {
                objects.extend(step["apply"].as_sequence().cloned().unwrap_or_default());
            }
            for o in objects {
                let text = serde_yaml::to_string(&o).unwrap();
                let m = parse_manifest(&path.display().to_string(), &text, "default");
                assert!(m.errors.is_empty(), "{}: {:?}", path.display(), m.errors);
                assert_eq!(m.objects.len(), 1, "{}:\n{text}", path.display());
                if matches!(m.objects[0], Object::TierPolicy(_)) {
                    decoded += 1;
                }
            }
        }
    }
    // 37 + 27 ClusterNetworkPolicies, 27 + 14 AdminNetworkPolicies and 10 + 13
    // BaselineAdminNetworkPolicies, in policies and steps.
    assert_eq!(decoded, 128);
    let base = std::fs::read_to_string(root.join("base.yaml")).unwrap();
    let nodes: Vec<(String, Vec<String>)> = objects(&base)
        .iter()
        .filter_map(|o| match o {
            Object::Node(n) => Some((
                n.name.clone(),
                n.addrs.iter().map(ToString::to_string).collect(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("node-1".to_string(), vec!["192.168.90.1".to_string()]),
            ("node-2".to_string(), vec!["192.168.90.2".to_string()]),
        ]
    );
}

/// Each case: the document (its offending line marked `# <-`), the field path the message
/// must name and a piece of the message.
fn refused(cases: &[(String, &str, &str)]) {
    for (text, path, what) in cases {
        let e = error(text);
        assert!(
            e.message.starts_with(&format!("{path}: ")),
            "expected the path {path} in: {e}"
        );
        assert!(e.message.contains(what), "expected {what:?} in: {e}");
    }
}

#[test]
fn cluster_network_policy_spec_rules() {
    let head = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata:\n  name: cnp\n";
    let with_spec = |spec: &str| format!("{head}spec:\n{spec}");
    refused(&[
        (
            format!("{head}  labels: {{a: b}}\n").replacen("v1alpha2", "v1alpha2 # <-", 1),
            "spec",
            "is required",
        ),
        (
            with_spec("  tier: admin # <-\n  priority: 1\n  subject: {namespaces: {}}\n"),
            "spec.tier",
            "unsupported value \"admin\": must be Admin or Baseline",
        ),
        (
            format!("{head}spec: # <-\n  priority: 1\n  subject: {{namespaces: {{}}}}\n"),
            "spec.tier",
            "is required",
        ),
        (
            with_spec("  tier: Admin\n  priority: 1001 # <-\n  subject: {namespaces: {}}\n"),
            "spec.priority",
            "priority 1001 is out of range 0-1000",
        ),
        (
            with_spec("  tier: Admin\n  priority: -1 # <-\n  subject: {namespaces: {}}\n"),
            "spec.priority",
            "priority -1 is out of range 0-1000",
        ),
        (
            with_spec("  tier: Admin\n  priority: \"5\" # <-\n  subject: {namespaces: {}}\n"),
            "spec.priority",
            "expected an integer, found \"5\"",
        ),
        (
            format!("{head}spec: # <-\n  tier: Admin\n  subject: {{namespaces: {{}}}}\n"),
            "spec.priority",
            "is required",
        ),
        (
            format!("{head}spec: # <-\n  tier: Admin\n  priority: 3\n"),
            "spec.subject",
            "is required",
        ),
        (
            with_spec("  tier: Admin\n  priority: 3\n  subject: {} # <-\n"),
            "spec.subject",
            "exactly one of namespaces or pods must be set, found none",
        ),
        (
            with_spec(
                "  tier: Admin\n  priority: 3\n  subject:\n    namespaces: {}\n    pods: {podSelector: {}} # <-\n",
            ),
            "spec.subject",
            "exactly one of namespaces or pods must be set, found namespaces and pods",
        ),
        (
            with_spec(
                "  tier: Admin\n  priority: 3\n  subject:\n    pods: # <-\n      namespaceSelector: {}\n",
            ),
            "spec.subject.pods.podSelector",
            "is required",
        ),
        (
            with_spec(
                "  tier: Admin\n  priority: 3\n  subject:\n    namespaces:\n      matchExpressions:\n      - {key: a, operator: Equals, values: [b]} # <-\n",
            ),
            "spec.subject.namespaces.matchExpressions[0]",
            "unknown matchExpressions operator \"Equals\"",
        ),
    ]);
    // Names are DNS subdomains.
    let e = error(&CNP.replace("  name: cnp", "  name: Cnp # <-"));
    assert!(e.message.starts_with("metadata.name: \"Cnp\""), "{e}");
}

#[test]
fn cluster_network_policy_rule_rules() {
    let rule = |r: &str| format!("{CNP}  ingress:\n{r}");
    let egress = |r: &str| format!("{CNP}  egress:\n{r}");
    let many = |n: usize| {
        let mut s = format!("{CNP}  ingress:\n");
        for i in 0..n {
            let mark = if i == n - 1 { " # <-" } else { "" };
            s += &format!("  - {{name: r{i}, action: Deny, from: [{{namespaces: {{}}}}]}}{mark}\n");
        }
        s
    };
    let peers = |n: usize| {
        format!(
            "{CNP}  ingress:\n  - action: Deny\n    from: [{}] # <-\n",
            vec!["{namespaces: {}}"; n].join(", ")
        )
    };
    refused(&[
        (many(26), "spec.ingress", "must have at most 25 rules, found 26"),
        (
            rule(&format!(
                "  - name: {} # <-\n    action: Deny\n    from: [{{namespaces: {{}}}}]\n",
                "x".repeat(101)
            )),
            "spec.ingress[0].name",
            "must be no more than 100 characters, found 101",
        ),
        (
            rule("  - name: r0 # <-\n    from: [{namespaces: {}}]\n"),
            "spec.ingress[0].action",
            "is required",
        ),
        (
            rule("  - name: r0\n    action: Allow # <-\n    from: [{namespaces: {}}]\n"),
            "spec.ingress[0].action",
            "unsupported value \"Allow\": must be Accept, Deny or Pass (Allow is v1alpha1's name for Accept)",
        ),
        (
            rule("  - name: r0 # <-\n    action: Deny\n"),
            "spec.ingress[0].from",
            "is required",
        ),
        (
            rule("  - action: Deny\n    from: [] # <-\n"),
            "spec.ingress[0].from",
            "must not be empty",
        ),
        (peers(26), "spec.ingress[0].from", "must have at most 25 peers, found 26"),
        (
            egress("  - name: r0\n    action: Deny\n    from: [{namespaces: {}}] # <-\n    to: [{namespaces: {}}]\n"),
            "spec.egress[0].from",
            "not a field of an egress rule, which has to",
        ),
        (
            rule("  - action: Deny\n    from: [{namespaces: {}}]\n    ports: [{portNumber: {port: 80}}] # <-\n"),
            "spec.ingress[0].ports",
            "not a field of ClusterNetworkPolicy (v1alpha2) rules, which match ports with protocols",
        ),
    ]);
}

#[test]
fn cluster_network_policy_peer_rules() {
    let ingress = |p: &str| format!("{CNP}  ingress:\n  - action: Deny\n    from:\n{p}");
    let egress =
        |action: &str, p: &str| format!("{CNP}  egress:\n  - action: {action}\n    to:\n{p}");
    let nets = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("'10.{i}.0.0/16'")).collect();
        egress(
            "Deny",
            &format!("    - networks: [{}] # <-\n", list.join(", ")),
        )
    };
    refused(&[
        (
            ingress("    - {} # <-\n"),
            "spec.ingress[0].from[0]",
            "exactly one of namespaces or pods must be set, found none",
        ),
        (
            // Fields of a newer API count as no field at all.
            ingress("    - {namespaces: {}}\n    - {services: [a]} # <-\n"),
            "spec.ingress[0].from[1]",
            "found none",
        ),
        (
            ingress("    - namespaces: {}\n      pods: {podSelector: {}} # <-\n"),
            "spec.ingress[0].from[0]",
            "found namespaces and pods",
        ),
        (
            ingress("    - networks: [10.0.0.0/8] # <-\n"),
            "spec.ingress[0].from[0].networks",
            "not a field of ingress peers of ClusterNetworkPolicy, which have namespaces and pods",
        ),
        (
            egress("Deny", "    - pods: {namespaceSelector: {}} # <-\n"),
            "spec.egress[0].to[0].pods.podSelector",
            "is required",
        ),
        (
            egress("Deny", "    - namespaces: {}\n      nodes: {} # <-\n"),
            "spec.egress[0].to[0]",
            "exactly one of namespaces, pods, nodes, networks or domainNames must be set, found namespaces and nodes",
        ),
        (
            egress("Deny", "    - networks: [] # <-\n"),
            "spec.egress[0].to[0].networks",
            "must not be empty",
        ),
        (nets(26), "spec.egress[0].to[0].networks", "must have at most 25 CIDRs, found 26"),
        (
            egress("Deny", "    - networks:\n      - 10.0.0.0/8\n      - 10.0.0.0/33 # <-\n"),
            "spec.egress[0].to[0].networks[1]",
            "invalid CIDR \"10.0.0.0/33\"",
        ),
        (
            egress("Deny", "    - networks: [010.0.0.0/8] # <-\n"),
            "spec.egress[0].to[0].networks[0]",
            "invalid CIDR \"010.0.0.0/8\"",
        ),
        (
            egress("Deny", "    - networks: ['::ffff:10.0.0.0/104'] # <-\n"),
            "spec.egress[0].to[0].networks[0]",
            "IPv4-mapped IPv6 addresses are not allowed",
        ),
        (
            egress("Deny", "    - networks: [10.0.0.0] # <-\n"),
            "spec.egress[0].to[0].networks[0]",
            "expected address/prefix-length",
        ),
        (
            egress(
                "Deny",
                // A valid address (embedded IPv4), but longer than MaxLength=43.
                "    - networks: ['0000:0000:0000:0000:0000:0000:100.200.100.200/128'] # <-\n",
            ),
            "spec.egress[0].to[0].networks[0]",
            "must be no more than 43 characters, found 49",
        ),
        (
            egress("Deny", "    - networks:\n      - 10.0.0.0/8\n      - 10.0.0.0/8 # <-\n"),
            "spec.egress[0].to[0].networks[1]",
            "duplicate value \"10.0.0.0/8\"",
        ),
        (
            egress("Accept", "    - domainNames: ['www.*.example.com'] # <-\n"),
            "spec.egress[0].to[0].domainNames[0]",
            "\"www.*.example.com\" is not a domain name",
        ),
        (
            egress("Accept", "    - domainNames: [localhost] # <-\n"),
            "spec.egress[0].to[0].domainNames[0]",
            "is not a domain name",
        ),
        (
            egress("Accept", "    - domainNames: [a.example.com, a.example.com] # <-\n"),
            "spec.egress[0].to[0].domainNames[1]",
            "duplicate value \"a.example.com\"",
        ),
        (
            egress("Accept", "    - domainNames: [] # <-\n"),
            "spec.egress[0].to[0].domainNames",
            "must not be empty",
        ),
        (
            egress("Deny", "    - namespaces: {}\n    - domainNames: [evil.example.com] # <-\n"),
            "spec.egress[0].to[1].domainNames",
            "domainNames peers are only supported in Accept rules, not Deny",
        ),
        (
            egress("Deny", "    - namespaces: {}\n    - networks: 10.0.0.0/8 # <-\n"),
            "spec.egress[0].to[1].networks",
            "invalid type: string \"10.0.0.0/8\", expected a sequence",
        ),
        (
            egress("Deny", "    - nodes:\n        matchLabels: {'bad key': x} # <-\n"),
            "spec.egress[0].to[0].nodes.matchLabels",
            "invalid label key",
        ),
    ]);
}

#[test]
fn cluster_network_policy_protocol_rules() {
    let protocols = |p: &str| {
        format!("{CNP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    protocols:\n{p}")
    };
    let many: Vec<String> = (1..=26)
        .map(|i| format!("{{tcp: {{destinationPort: {{number: {i}}}}}}}"))
        .collect();
    refused(&[
        (
            format!("{CNP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    protocols: [] # <-\n"),
            "spec.ingress[0].protocols",
            "must not be empty",
        ),
        (
            format!(
                "{CNP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    protocols: # <-\n{}",
                many.iter().map(|p| format!("    - {p}\n")).collect::<String>()
            ),
            "spec.ingress[0].protocols",
            "must have at most 25 entries, found 26",
        ),
        (
            protocols("    - {} # <-\n"),
            "spec.ingress[0].protocols[0]",
            "exactly one of tcp, udp, sctp or destinationNamedPort must be set, found none",
        ),
        (
            protocols("    - tcp: {destinationPort: {number: 80}}\n      udp: {destinationPort: {number: 80}} # <-\n"),
            "spec.ingress[0].protocols[0]",
            "found tcp and udp",
        ),
        (
            protocols("    - udp: {} # <-\n"),
            "spec.ingress[0].protocols[0].udp.destinationPort",
            "is required",
        ),
        (
            protocols("    - tcp:\n        destinationPort: {} # <-\n"),
            "spec.ingress[0].protocols[0].tcp.destinationPort",
            "exactly one of number or range must be set, found none",
        ),
        (
            protocols("    - tcp:\n        destinationPort:\n          number: 80\n          range: {start: 1, end: 2} # <-\n"),
            "spec.ingress[0].protocols[0].tcp.destinationPort",
            "found number and range",
        ),
        (
            protocols("    - tcp:\n        destinationPort:\n          number: 0 # <-\n"),
            "spec.ingress[0].protocols[0].tcp.destinationPort.number",
            "port 0 is out of range 1-65535",
        ),
        (
            protocols("    - sctp:\n        destinationPort:\n          number: 65536 # <-\n"),
            "spec.ingress[0].protocols[0].sctp.destinationPort.number",
            "port 65536 is out of range 1-65535",
        ),
        (
            protocols("    - tcp:\n        destinationPort:\n          number: http # <-\n"),
            "spec.ingress[0].protocols[0].tcp.destinationPort.number",
            "expected an integer, found \"http\"",
        ),
        (
            protocols("    - udp:\n        destinationPort:\n          range:\n            start: 90\n            end: 80 # <-\n"),
            "spec.ingress[0].protocols[0].udp.destinationPort.range",
            "start port 90 must be less than end port 80",
        ),
        (
            protocols("    - udp:\n        destinationPort:\n          range: {start: 80, end: 80} # <-\n"),
            "spec.ingress[0].protocols[0].udp.destinationPort.range",
            "start port 80 must be less than end port 80",
        ),
        (
            protocols("    - udp:\n        destinationPort:\n          range: # <-\n            start: 80\n"),
            "spec.ingress[0].protocols[0].udp.destinationPort.range.end",
            "is required",
        ),
        (
            protocols("    - udp:\n        destinationPort:\n          range:\n            start: 80\n            end: 70000 # <-\n"),
            "spec.ingress[0].protocols[0].udp.destinationPort.range.end",
            "port 70000 is out of range 1-65535",
        ),
    ]);
}

#[test]
fn named_ports_need_pod_peers_in_egress() {
    // The egress rules' CEL rule; ingress rules have only pod peers.
    for peer in [
        "{networks: [10.0.0.0/8]}",
        "{nodes: {}}",
        "{domainNames: [a.example.com]}",
    ] {
        let text = format!(
            "{CNP}  egress:\n  - action: Accept\n    to: [{{namespaces: {{}}}}, {peer}]\n    protocols:\n    - tcp: {{destinationPort: {{number: 80}}}}\n    - destinationNamedPort: web # <-\n"
        );
        let e = error(&text);
        assert_eq!(
            e.message,
            "spec.egress[0]: networks/nodes/domainNames peer cannot be set with namedPorts \
             since there are no namedPorts for networks/nodes/domainNames",
            "{peer}"
        );
    }
    let p = policy(&format!(
        "{CNP}  egress:\n  - action: Accept\n    to: [{{pods: {{podSelector: {{}}}}}}]\n    protocols: [{{destinationNamedPort: web}}]\n"
    ));
    assert_eq!(p.egress[0].ports, Some(vec![TierPort::Named("web".into())]));
    let text = format!(
        "{ANP}  egress:\n  - action: Deny\n    to: [{{nodes: {{}}}}]\n    ports:\n    - namedPort: dns # <-\n"
    );
    assert!(error(&text).message.starts_with(
        "spec.egress[0]: networks/nodes/domainNames peer cannot be set with namedPorts"
    ));
    let text = format!(
        "{BANP}  egress:\n  - action: Deny\n    to: [{{networks: ['::/0']}}]\n    ports:\n    - namedPort: dns # <-\n"
    );
    assert_eq!(
        error(&text).message,
        "spec.egress[0]: networks/nodes peer cannot be set with namedPorts since there are \
         no namedPorts for networks/nodes"
    );
}

#[test]
fn admin_network_policy_rules() {
    let ports = |p: &str| {
        format!(
            "{ANP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports:\n{p}"
        )
    };
    let many = |n: usize| {
        let mut s = format!("{ANP}  egress:\n");
        for i in 0..n {
            let mark = if i == n - 1 { " # <-" } else { "" };
            s += &format!("  - {{name: r{i}, action: Deny, to: [{{namespaces: {{}}}}]}}{mark}\n");
        }
        s
    };
    refused(&[
        (
            ANP.replace("  priority: 10", "  priority: 1001 # <-"),
            "spec.priority",
            "priority 1001 is out of range 0-1000",
        ),
        (
            ANP.replace("  priority: 10\n", "").replace("spec:", "spec: # <-"),
            "spec.priority",
            "is required",
        ),
        (
            ANP.replace("  priority: 10", "  priority: 10\n  tier: Baseline # <-"),
            "spec.tier",
            "not a field of AdminNetworkPolicy (v1alpha1)",
        ),
        (
            format!("{ANP}  ingress:\n  - action: Accept # <-\n    from: [{{namespaces: {{}}}}]\n"),
            "spec.ingress[0].action",
            "unsupported value \"Accept\": must be Allow, Deny or Pass (Accept is v1alpha2's name for Allow)",
        ),
        (many(101), "spec.egress", "must have at most 100 rules, found 101"),
        (
            ANP.replace(
                "    namespaces: {}",
                "    pods:\n      podSelector: {} # <-",
            ),
            "spec.subject.pods.namespaceSelector",
            "is required",
        ),
        (
            format!("{ANP}  ingress:\n  - action: Deny\n    from:\n    - pods: {{podSelector: {{}}}} # <-\n"),
            "spec.ingress[0].from[0].pods.namespaceSelector",
            "is required",
        ),
        (
            format!("{ANP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    protocols: [{{tcp: {{destinationPort: {{number: 80}}}}}}] # <-\n"),
            "spec.ingress[0].protocols",
            "not a field of AdminNetworkPolicy (v1alpha1) rules, which match ports with ports",
        ),
        (
            format!("{ANP}  ingress:\n  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports: [] # <-\n"),
            "spec.ingress[0].ports",
            "must not be empty",
        ),
        (
            ports("    - {} # <-\n"),
            "spec.ingress[0].ports[0]",
            "exactly one of portNumber, namedPort or portRange must be set, found none",
        ),
        (
            ports("    - portNumber: {port: 80}\n      namedPort: web # <-\n"),
            "spec.ingress[0].ports[0]",
            "found portNumber and namedPort",
        ),
        (
            ports("    - portNumber: {protocol: UDP} # <-\n"),
            "spec.ingress[0].ports[0].portNumber.port",
            "is required",
        ),
        (
            ports("    - portNumber: {protocol: ICMP, port: 1} # <-\n"),
            "spec.ingress[0].ports[0].portNumber.protocol",
            "unsupported protocol \"ICMP\": must be one of TCP, UDP, SCTP",
        ),
        (
            ports("    - portNumber: {protocol: tcp, port: 1} # <-\n"),
            "spec.ingress[0].ports[0].portNumber.protocol",
            "unsupported protocol \"tcp\"",
        ),
        (
            ports("    - portNumber:\n        port: 0 # <-\n"),
            "spec.ingress[0].ports[0].portNumber.port",
            "port 0 is out of range 1-65535",
        ),
        (
            ports("    - portRange: {start: 8080, end: 8080} # <-\n"),
            "spec.ingress[0].ports[0].portRange",
            "start port 8080 must be less than end port 8080",
        ),
        (
            ports("    - portRange: # <-\n        end: 10\n"),
            "spec.ingress[0].ports[0].portRange.start",
            "is required",
        ),
        (
            ports("    - portRange:\n        protocol: UDP\n        start: 0 # <-\n        end: 10\n"),
            "spec.ingress[0].ports[0].portRange.start",
            "port 0 is out of range 1-65535",
        ),
        (
            format!("{ANP}  egress:\n  - action: Pass\n    to:\n    - domainNames: [a.example.com] # <-\n"),
            "spec.egress[0].to[0].domainNames",
            "domainNames peers are only supported in Allow rules, not Pass",
        ),
        (
            format!("{ANP}  ingress:\n  - action: Deny\n    from:\n    - nodes: {{}} # <-\n"),
            "spec.ingress[0].from[0].nodes",
            "not a field of ingress peers of AdminNetworkPolicy, which have namespaces and pods",
        ),
    ]);
}

#[test]
fn baseline_admin_network_policy_rules() {
    refused(&[
        (
            BANP.replace("  name: default", "  name: baseline # <-"),
            "metadata.name",
            "\"baseline\": only one baseline admin network policy with metadata.name=\"default\" can be created in the cluster",
        ),
        (
            format!("{BANP}  ingress:\n  - action: Pass # <-\n    from: [{{namespaces: {{}}}}]\n"),
            "spec.ingress[0].action",
            "unsupported value \"Pass\": must be Allow or Deny",
        ),
        (
            BANP.replace("spec:\n", "spec:\n  priority: 5 # <-\n"),
            "spec.priority",
            "not a field of BaselineAdminNetworkPolicy",
        ),
        (
            format!("{BANP}  egress:\n  - action: Allow\n    to:\n    - domainNames: [a.example.com] # <-\n"),
            "spec.egress[0].to[0].domainNames",
            "not a field of egress peers of BaselineAdminNetworkPolicy, which have namespaces, pods, nodes and networks",
        ),
        (
            format!("{BANP}  egress:\n  - action: Allow\n    to:\n    - networks: [1.2.3.4/32]\n    ports:\n    - portNumber: {{port: 80}}\n    - portRange: {{start: 10, end: 20}}\n    - portRange: {{start: 30, end: 20}} # <-\n"),
            "spec.egress[0].ports[2].portRange",
            "start port 30 must be less than end port 20",
        ),
    ]);
}

#[test]
fn errors_in_later_rules_point_at_their_own_lines() {
    // Every rule has the same keys and the subject uses `pods` too: the line is found
    // inside the rule, the peer or the entry the path names, not at the first `pods:`.
    let head = "apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: anp}
spec:
  priority: 5
  subject:
    pods: {namespaceSelector: {}, podSelector: {}}
  ingress:
  - action: Allow
    from:
    - pods: {namespaceSelector: {}, podSelector: {}}
    ports:
    - portNumber: {port: 80}
";
    refused(&[
        (
            format!("{head}  - action: Deny\n    from:\n    - namespaces: {{}}\n      pods: {{namespaceSelector: {{}}, podSelector: {{}}}} # <-\n"),
            "spec.ingress[1].from[0]",
            "found namespaces and pods",
        ),
        (
            format!("{head}  - action: Deny\n    from:\n    - namespaces: {{}}\n    - {{}} # <-\n"),
            "spec.ingress[1].from[1]",
            "found none",
        ),
        (
            format!("{head}  - action: Deny # <-\n    ports:\n    - portNumber: {{port: 80}}\n"),
            "spec.ingress[1].from",
            "is required",
        ),
        (
            format!("{head}  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports: [] # <-\n"),
            "spec.ingress[1].ports",
            "must not be empty",
        ),
        (
            format!("{head}  - action: Deny\n    from: [{{namespaces: {{}}}}]\n    ports:\n    - portNumber: {{port: 80}}\n    - {{}} # <-\n"),
            "spec.ingress[1].ports[1]",
            "found none",
        ),
    ]);
}
