//! NetworkPolicy v1 semantics, one rule at a time (see /work/shared/semantics.md).
//!
//! Every test builds a small manifest, asks `reach` for at least one flow that a rule
//! allows and one that it denies, and (through `model`) checks that the bitset matrix
//! agrees with `reach` on every pair of the manifest's endpoints.

use netfence_analyzer::{
    explain, reach, resolve_target, Flow, Matrix, MatrixPort, NameScope, Party, Target, Verdict,
};
use netfence_model::ports::PortRef;
use netfence_model::{compile_text, parse_manifest, EndpointId, Family, Model, Protocol};

// ---- manifest builders ----

/// A pod document; `labels` is the body of a flow mapping (`app: a, tier: x`).
fn pod(ns: &str, name: &str, labels: &str, ip: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nstatus:\n  podIP: \"{ip}\"\n"
    )
}

/// A pod scheduled on `node` (whose address is `host_ip`).
fn pod_on(ns: &str, name: &str, labels: &str, ip: &str, node: &str, host_ip: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  nodeName: {node}\nstatus:\n  podIP: \"{ip}\"\n  hostIP: \"{host_ip}\"\n"
    )
}

/// A hostNetwork pod on `node`: its address is the node's.
fn host_pod(ns: &str, name: &str, labels: &str, node: &str, host_ip: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  hostNetwork: true\n  nodeName: {node}\nstatus:\n  podIP: \"{host_ip}\"\n  hostIP: \"{host_ip}\"\n"
    )
}

/// A pod with container ports; `ports` is a list of `(name, number, protocol)`.
fn pod_ports(ns: &str, name: &str, labels: &str, ip: &str, ports: &[(&str, u16, &str)]) -> String {
    let mut s = format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: main\n    ports:\n"
    );
    for (pname, n, proto) in ports {
        s.push_str(&format!(
            "    - {{name: {pname}, containerPort: {n}, protocol: {proto}}}\n"
        ));
    }
    s.push_str(&format!("status:\n  podIP: \"{ip}\"\n"));
    s
}

fn namespace(name: &str, labels: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n"
    )
}

/// The port columns every model is checked on (matrix against reach).
fn columns() -> Vec<MatrixPort> {
    [
        (80, Protocol::Tcp),
        (81, Protocol::Tcp),
        (443, Protocol::Tcp),
        (7999, Protocol::Tcp),
        (8000, Protocol::Tcp),
        (8080, Protocol::Tcp),
        (8081, Protocol::Tcp),
        (9090, Protocol::Tcp),
        (53, Protocol::Udp),
        (80, Protocol::Udp),
        (3868, Protocol::Sctp),
    ]
    .into_iter()
    .map(|(port, protocol)| MatrixPort {
        port: PortRef::Number(port),
        protocol,
    })
    .collect()
}

/// Compiles a manifest (any error fails the test) and checks the matrix against reach.
#[track_caller]
fn model(parts: &[String]) -> Model {
    let text = parts.concat();
    let m = compile_text("t.yaml", &text, "default")
        .unwrap_or_else(|e| panic!("manifest rejected: {e:?}\n{text}"));
    assert_matrix_agrees(&m, &columns());
    m
}

/// For every pair of endpoints and every column, `Matrix::compute` gives what `reach`
/// gives with that port. Returns how many off-diagonal cells were allowed and denied.
#[track_caller]
fn assert_matrix_agrees(m: &Model, cols: &[MatrixPort]) -> (usize, usize) {
    let mx = Matrix::compute(m, cols);
    let n = m.cluster.endpoints.len();
    let (mut yes, mut no) = (0, 0);
    for (k, col) in cols.iter().enumerate() {
        let PortRef::Number(port) = col.port else {
            panic!("numeric columns only")
        };
        for i in 0..n {
            for j in 0..n {
                let r = reach(
                    m,
                    Flow {
                        from: Party::Endpoint(EndpointId(i as u32)),
                        to: Party::Endpoint(EndpointId(j as u32)),
                        protocol: Some(col.protocol),
                        port: Some(port),
                        family: None,
                    },
                );
                assert_eq!(
                    mx.allowed(k, i, j),
                    r.allowed,
                    "matrix and reach disagree on {col}:\n{}",
                    explain::render(m, &r)
                );
                if i != j {
                    if r.allowed {
                        yes += 1;
                    } else {
                        no += 1;
                    }
                }
            }
        }
    }
    (yes, no)
}

// ---- flows ----

/// `ns/name`, `ns/kind/name`, an address or a CIDR, as the CLI takes them.
#[track_caller]
fn party(m: &Model, name: &str) -> Party {
    match resolve_target(&m.cluster, name, &NameScope::in_namespace("default"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    {
        Target::Endpoints { ids, .. } => {
            assert_eq!(ids.len(), 1, "{name} names {} endpoints", ids.len());
            Party::Endpoint(ids[0])
        }
        Target::External(net) => Party::External(net),
        Target::Service(_) => panic!("{name} is a Service"),
    }
}

/// Ports of a question: `any`, `TCP`/`UDP`/`SCTP` (every port of it), `80` (TCP) or
/// `53/UDP`; a suffix `@v4` or `@v6` fixes the address family.
fn question(spec: &str) -> (Option<Protocol>, Option<u16>, Option<Family>) {
    let (ports, family) = match spec.split_once('@') {
        Some((p, "v4")) => (p, Some(Family::V4)),
        Some((p, "v6")) => (p, Some(Family::V6)),
        Some((_, f)) => panic!("unknown family {f}"),
        None => (spec, None),
    };
    let proto = |s: &str| match s {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => panic!("unknown protocol {s}"),
    };
    let (protocol, port) = match ports.split_once('/') {
        _ if ports == "any" => (None, None),
        Some((n, p)) => (Some(proto(p)), Some(n.parse().unwrap())),
        None => match ports.parse::<u16>() {
            Ok(n) => (None, Some(n)),
            Err(_) => (Some(proto(ports)), None),
        },
    };
    (protocol, port, family)
}

fn flow(m: &Model, from: &str, to: &str, spec: &str) -> netfence_analyzer::Reach {
    let (protocol, port, family) = question(spec);
    reach(
        m,
        Flow {
            from: party(m, from),
            to: party(m, to),
            protocol,
            port,
            family,
        },
    )
}

#[track_caller]
fn expect(m: &Model, from: &str, to: &str, spec: &str, want: bool) {
    expect_verdict(
        m,
        from,
        to,
        spec,
        if want {
            Verdict::Allowed
        } else {
            Verdict::Denied
        },
    );
}

#[track_caller]
fn expect_verdict(m: &Model, from: &str, to: &str, spec: &str, want: Verdict) {
    let r = flow(m, from, to, spec);
    let text = explain::render(m, &r);
    let shown = r.verdict.as_str().to_ascii_uppercase();
    assert!(
        text.lines().next().unwrap().ends_with(&shown),
        "explanation contradicts the verdict:\n{text}"
    );
    assert_eq!(
        r.allowed,
        r.verdict == Verdict::Allowed,
        "allowed is the sure verdict"
    );
    assert_eq!(
        r.verdict, want,
        "{from} -> {to} on {spec}: expected {want}\n{text}"
    );
    assert_eq!(
        r.unknowns.is_empty(),
        want != Verdict::Unknown,
        "an unknown verdict names its facts, a known one none\n{text}"
    );
}

/// The verdict depends on what the input does not show.
#[track_caller]
fn unknown(m: &Model, from: &str, to: &str, spec: &str) {
    expect_verdict(m, from, to, spec, Verdict::Unknown);
}

#[track_caller]
fn allowed(m: &Model, from: &str, to: &str, spec: &str) {
    expect(m, from, to, spec, true);
}

#[track_caller]
fn denied(m: &Model, from: &str, to: &str, spec: &str) {
    expect(m, from, to, spec, false);
}

/// Three pods `a`, `b`, `c` in `ns1`, labelled `app: <name>`, and the policies given.
fn abc(policies: &str) -> Model {
    model(&[
        pod("ns1", "a", "app: a", "10.0.0.1"),
        pod("ns1", "b", "app: b", "10.0.0.2"),
        pod("ns1", "c", "app: c", "10.0.0.3"),
        policies.to_string(),
    ])
}

// ---- policyTypes defaulting ----

#[test]
fn absent_policy_types_mean_ingress_only() {
    // No policyTypes, no rules: Ingress only; ingress of b is closed, egress stays open.
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: isolate-b, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
"#);
    denied(&m, "ns1/a", "ns1/b", "80");
    denied(&m, "10.9.9.9", "ns1/b", "any");
    allowed(&m, "ns1/b", "ns1/a", "80");
    allowed(&m, "ns1/b", "8.8.8.8", "53/UDP");
    let p = &m.cluster.policies[0];
    assert!(p.affects_ingress && !p.affects_egress && p.declared_types.is_none());
}

#[test]
fn egress_rules_without_policy_types_add_egress() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: b-to-c, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  egress:
  - to:
    - podSelector: {matchLabels: {app: c}}
"#);
    allowed(&m, "ns1/b", "ns1/c", "80");
    denied(&m, "ns1/b", "ns1/a", "80");
    denied(&m, "ns1/b", "1.1.1.1", "443");
    // Ingress is always a type when policyTypes is absent: no ingress rules, closed.
    denied(&m, "ns1/a", "ns1/b", "80");
    allowed(&m, "ns1/a", "ns1/c", "80");
}

#[test]
fn empty_egress_list_does_not_isolate_egress() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: b, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]
  egress: []
"#);
    allowed(&m, "ns1/b", "ns1/c", "80");
    allowed(&m, "ns1/b", "1.1.1.1", "any");
    allowed(&m, "ns1/a", "ns1/b", "80");
    denied(&m, "ns1/c", "ns1/b", "80");
    assert!(!m.cluster.policies[0].affects_egress);
}

#[test]
fn explicit_ingress_policy_type_ignores_egress_rules() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: ingress-only, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress: [{}]
  egress:
  - to: [{podSelector: {matchLabels: {app: c}}}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: both, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress:
  - to: [{podSelector: {matchLabels: {app: b}}}]
"#);
    // b's egress rules are ignored: b is not isolated for egress.
    allowed(&m, "ns1/b", "ns1/a", "80");
    allowed(&m, "ns1/b", "9.9.9.9", "80");
    // The same rules with Egress declared do isolate c.
    denied(&m, "ns1/c", "ns1/a", "80");
    allowed(&m, "ns1/c", "ns1/b", "80");
}

#[test]
fn egress_only_policy_type_leaves_ingress_open() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: egress-only, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: c}}}]
"#);
    // The ingress rules are ignored: a is not c, and still gets in.
    allowed(&m, "ns1/a", "ns1/b", "80");
    allowed(&m, "7.7.7.7", "ns1/b", "80");
    denied(&m, "ns1/b", "ns1/a", "80");
    denied(&m, "ns1/b", "7.7.7.7", "any");
}

// ---- absent and empty from / to / ports; {} and [] ----

#[test]
fn absent_and_empty_from_match_every_source() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: absent-from, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - ports: [{port: 80}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: empty-from, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress:
  - from: []
    ports: [{port: 443}]
"#);
    for src in ["ns1/a", "203.0.113.7", "0.0.0.0/0"] {
        allowed(&m, src, "ns1/b", "80");
        denied(&m, src, "ns1/b", "81");
        allowed(&m, src, "ns1/c", "443");
        denied(&m, src, "ns1/c", "80");
    }
}

#[test]
fn absent_and_empty_to_match_every_destination() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: absent-to, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: empty-to, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Egress]
  egress:
  - to: []
    ports: [{port: 443}]
"#);
    for dst in ["ns1/a", "203.0.113.7"] {
        allowed(&m, "ns1/b", dst, "53/UDP");
        denied(&m, "ns1/b", dst, "53");
        allowed(&m, "ns1/c", dst, "443");
        denied(&m, "ns1/c", dst, "80");
    }
}

#[test]
fn absent_and_empty_ports_allow_every_port_of_every_protocol() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: absent-ports, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: empty-ports, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: []
"#);
    for dst in ["ns1/b", "ns1/c"] {
        for q in ["any", "1", "65535", "53/UDP", "3868/SCTP", "SCTP"] {
            allowed(&m, "ns1/a", dst, q);
        }
    }
    denied(&m, "ns1/c", "ns1/b", "80");
    denied(&m, "ns1/b", "ns1/c", "53/UDP");
}

#[test]
fn empty_rule_allows_everything_and_empty_list_nothing() {
    let m = model(&[
        pod("ns1", "a", "app: a", "10.0.0.1"),
        pod("ns1", "open", "app: open", "10.0.0.2"),
        pod("ns1", "closed", "app: closed", "10.0.0.3"),
        pod("ns2", "x", "app: x", "10.0.1.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: allow-all, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: open}}
  ingress: [{}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: closed}}
  ingress: []
"#
        .into(),
    ]);
    for src in ["ns1/a", "ns2/x", "198.51.100.1", "0.0.0.0/0"] {
        allowed(&m, src, "ns1/open", "any");
        denied(&m, src, "ns1/closed", "any");
    }
    for q in ["80", "53/UDP", "3868/SCTP"] {
        allowed(&m, "ns2/x", "ns1/open", q);
        denied(&m, "ns1/a", "ns1/closed", q);
    }
}

#[test]
fn a_null_rule_is_the_empty_rule() {
    // `ingress: [null]` (a bare `-`) decodes as `{}`.
    let m = abc("---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: p, namespace: ns1}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  egress:\n  -\n");
    allowed(&m, "ns1/b", "ns1/a", "any");
    allowed(&m, "ns1/b", "1.2.3.4", "any");
    // Ingress is still defaulted in, with no rule: closed.
    denied(&m, "ns1/a", "ns1/b", "80");
}

// ---- pod and namespace selection ----

#[test]
fn empty_pod_selector_selects_only_its_own_namespace() {
    let m = model(&[
        pod("ns1", "a", "app: a", "10.0.0.1"),
        pod("ns1", "b", "", "10.0.0.2"),
        pod("ns2", "a", "app: a", "10.0.1.1"),
        pod("ns2", "b", "", "10.0.1.2"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: default-deny, namespace: ns1}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"#
        .into(),
    ]);
    denied(&m, "ns2/a", "ns1/a", "80");
    denied(&m, "ns2/a", "ns1/b", "80");
    denied(&m, "ns1/a", "ns1/b", "80");
    allowed(&m, "ns1/a", "ns2/a", "80");
    allowed(&m, "ns1/b", "ns2/b", "80");
    allowed(&m, "ns2/a", "ns2/b", "80");
}

#[test]
fn pod_selector_peer_selects_the_policy_namespace_only() {
    let m = model(&[
        pod("ns1", "a", "app: a", "10.0.0.1"),
        pod("ns1", "b", "app: b", "10.0.0.2"),
        pod("ns2", "a", "app: a", "10.0.1.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: from-a, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
"#
        .into(),
    ]);
    allowed(&m, "ns1/a", "ns1/b", "80");
    denied(&m, "ns2/a", "ns1/b", "80");
    // A pod selector never matches an address, even a pod-like one outside the cluster.
    denied(&m, "10.0.0.99", "ns1/b", "80");
}

#[test]
fn empty_namespace_selector_matches_every_namespace() {
    let m = model(&[
        namespace("ns3", "team: z"),
        pod("ns1", "b", "app: b", "10.0.0.2"),
        pod("ns2", "x", "app: x", "10.0.1.1"),
        pod("ns3", "\"y\"", "", "10.0.2.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: from-cluster, namespace: ns1}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}}]
"#
        .into(),
    ]);
    allowed(&m, "ns2/x", "ns1/b", "80");
    allowed(&m, "ns3/y", "ns1/b", "80");
    denied(&m, "10.0.1.200", "ns1/b", "80");
    denied(&m, "0.0.0.0/0", "ns1/b", "80");
}

fn and_or_model(policy: &str) -> Model {
    model(&[
        namespace("ns1", "team: own"),
        namespace("ns2", "team: x"),
        namespace("ns3", "team: \"y\""),
        pod("ns1", "dst", "app: dst", "10.0.0.1"),
        pod("ns1", "a", "app: a", "10.0.0.2"),
        pod("ns1", "b", "app: b", "10.0.0.3"),
        pod("ns2", "a", "app: a", "10.0.1.1"),
        pod("ns2", "b", "app: b", "10.0.1.2"),
        pod("ns3", "a", "app: a", "10.0.2.1"),
        pod("ns3", "b", "app: b", "10.0.2.2"),
        policy.to_string(),
    ])
}

#[test]
fn namespace_and_pod_selector_in_one_peer_are_anded() {
    let m = and_or_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: and, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: x}}
      podSelector: {matchLabels: {app: a}}
"#,
    );
    allowed(&m, "ns2/a", "ns1/dst", "80");
    denied(&m, "ns2/b", "ns1/dst", "80");
    denied(&m, "ns3/a", "ns1/dst", "80");
    denied(&m, "ns1/a", "ns1/dst", "80");
}

#[test]
fn namespace_and_pod_selector_in_two_peers_are_ored() {
    let m = and_or_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: or, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: x}}
    - podSelector: {matchLabels: {app: a}}
"#,
    );
    allowed(&m, "ns2/a", "ns1/dst", "80");
    allowed(&m, "ns2/b", "ns1/dst", "80");
    allowed(&m, "ns1/a", "ns1/dst", "80");
    denied(&m, "ns1/b", "ns1/dst", "80");
    denied(&m, "ns3/a", "ns1/dst", "80");
    denied(&m, "ns3/b", "ns1/dst", "80");
}

fn selector_model(selector: &str) -> Model {
    model(&[
        pod("ns1", "dst", "role: dst", "10.0.0.1"),
        pod("ns1", "prod", "env: prod, tier: web", "10.0.0.2"),
        pod("ns1", "dev", "env: dev, tier: web", "10.0.0.3"),
        pod("ns1", "bare", "tier: db", "10.0.0.4"),
        format!(
            "---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {{name: sel, namespace: ns1}}\nspec:\n  podSelector: {{matchLabels: {{role: dst}}}}\n  ingress:\n  - from:\n    - podSelector:\n{selector}"
        ),
    ])
}

#[test]
fn match_expression_in_needs_the_key() {
    let m = selector_model(
        "        matchExpressions: [{key: env, operator: In, values: [prod, staging]}]\n",
    );
    allowed(&m, "ns1/prod", "ns1/dst", "80");
    denied(&m, "ns1/dev", "ns1/dst", "80");
    denied(&m, "ns1/bare", "ns1/dst", "80");
}

#[test]
fn match_expression_not_in_matches_pods_lacking_the_key() {
    let m =
        selector_model("        matchExpressions: [{key: env, operator: NotIn, values: [prod]}]\n");
    allowed(&m, "ns1/dev", "ns1/dst", "80");
    allowed(&m, "ns1/bare", "ns1/dst", "80");
    denied(&m, "ns1/prod", "ns1/dst", "80");
}

#[test]
fn match_expression_exists_needs_the_key() {
    let m = selector_model("        matchExpressions: [{key: env, operator: Exists}]\n");
    allowed(&m, "ns1/prod", "ns1/dst", "80");
    allowed(&m, "ns1/dev", "ns1/dst", "80");
    denied(&m, "ns1/bare", "ns1/dst", "80");
}

#[test]
fn match_expression_does_not_exist_matches_pods_lacking_the_key() {
    let m = selector_model("        matchExpressions: [{key: env, operator: DoesNotExist}]\n");
    allowed(&m, "ns1/bare", "ns1/dst", "80");
    denied(&m, "ns1/prod", "ns1/dst", "80");
    denied(&m, "ns1/dev", "ns1/dst", "80");
}

#[test]
fn match_labels_and_match_expressions_are_anded() {
    let m = selector_model(
        "        matchLabels: {tier: web}\n        matchExpressions:\n        - {key: env, operator: NotIn, values: [prod]}\n        - {key: tier, operator: Exists}\n",
    );
    allowed(&m, "ns1/dev", "ns1/dst", "80");
    denied(&m, "ns1/prod", "ns1/dst", "80");
    // NotIn holds for bare (no env) but matchLabels tier=web does not.
    denied(&m, "ns1/bare", "ns1/dst", "80");
}

#[test]
fn namespace_selector_expressions_match_namespaces_lacking_the_key() {
    let m = model(&[
        namespace("labelled", "env: prod"),
        namespace("other", "env: dev"),
        pod("ns1", "dst", "", "10.0.0.1"),
        pod("labelled", "p", "", "10.0.1.1"),
        pod("other", "p", "", "10.0.2.1"),
        // "bare" is never defined as a Namespace: it has no labels but its name.
        pod("bare", "p", "", "10.0.3.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: not-prod, namespace: ns1}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: env, operator: NotIn, values: [prod]}]
"#
        .into(),
    ]);
    allowed(&m, "other/p", "ns1/dst", "80");
    // Whether bare's labels hold env=prod is not known: NotIn may or may not hold.
    unknown(&m, "bare/p", "ns1/dst", "80");
    allowed(&m, "ns1/dst", "ns1/dst", "80");
    denied(&m, "labelled/p", "ns1/dst", "80");
}

#[test]
fn every_namespace_carries_its_metadata_name_label() {
    let m = model(&[
        // A defined namespace whose manifest tries to set the label to something else:
        // the API server overwrites it with the name.
        namespace("defined", "kubernetes.io/metadata.name: spoofed"),
        pod("ns1", "dst", "", "10.0.0.1"),
        pod("defined", "p", "", "10.0.1.1"),
        // Namespaces only referenced by a pod, never defined.
        pod("implicit", "p", "", "10.0.2.1"),
        pod("elsewhere", "p", "", "10.0.3.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: by-name, namespace: ns1}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: implicit}}
    - namespaceSelector:
        matchExpressions:
        - {key: kubernetes.io/metadata.name, operator: In, values: [defined, spoofed]}
"#
        .into(),
    ]);
    allowed(&m, "implicit/p", "ns1/dst", "80");
    allowed(&m, "defined/p", "ns1/dst", "80");
    denied(&m, "elsewhere/p", "ns1/dst", "80");
    let ns = m
        .cluster
        .namespace(m.cluster.namespace_id("defined").unwrap());
    assert_eq!(ns.labels["kubernetes.io/metadata.name"], "defined");
}

// ---- ipBlock ----

#[test]
fn ip_block_with_except_matches_pod_and_external_addresses() {
    let m = model(&[
        pod("ns1", "dst", "app: dst", "10.1.0.1"),
        pod("ns1", "in", "", "10.0.1.1"),
        pod("ns1", "excepted", "", "10.0.5.5"),
        pod("ns1", "outside", "", "10.2.0.1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: block, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.5.0/24]
"#
        .into(),
    ]);
    allowed(&m, "ns1/in", "ns1/dst", "80");
    denied(&m, "ns1/excepted", "ns1/dst", "80");
    denied(&m, "ns1/outside", "ns1/dst", "80");
    allowed(&m, "10.0.200.7", "ns1/dst", "80");
    allowed(&m, "10.0.4.255", "ns1/dst", "80");
    allowed(&m, "10.0.6.0", "ns1/dst", "80");
    denied(&m, "10.0.5.0", "ns1/dst", "80");
    denied(&m, "10.0.5.255", "ns1/dst", "80");
    denied(&m, "10.1.0.0", "ns1/dst", "80");
    // A range is admitted only if the block holds all of it.
    allowed(&m, "10.0.8.0/22", "ns1/dst", "80");
    denied(&m, "10.0.4.0/23", "ns1/dst", "80");
}

#[test]
fn except_is_not_a_deny() {
    let m = model(&[
        pod("ns1", "dst", "app: dst", "10.1.0.1"),
        pod("ns1", "excepted", "app: friend", "10.0.5.5"),
        pod("ns1", "excepted2", "", "10.0.5.6"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: block, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.5.0/24]}
    - podSelector: {matchLabels: {app: friend}}
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: narrow, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.5.128/25}}]
"#
        .into(),
    ]);
    // Another peer of the same rule re-allows an excepted pod.
    allowed(&m, "ns1/excepted", "ns1/dst", "80");
    denied(&m, "ns1/excepted2", "ns1/dst", "80");
    // Another policy re-allows part of the except.
    allowed(&m, "10.0.5.200", "ns1/dst", "80");
    denied(&m, "10.0.5.100", "ns1/dst", "80");
}

#[test]
fn egress_ip_block_matches_destination_pods_by_address() {
    let m = model(&[
        pod("ns1", "src", "app: src", "10.1.0.1"),
        pod("ns1", "in", "", "10.0.1.1"),
        pod("ns1", "excepted", "", "10.0.5.5"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: out, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: src}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.5.0/24]}}]
"#
        .into(),
    ]);
    allowed(&m, "ns1/src", "ns1/in", "80");
    denied(&m, "ns1/src", "ns1/excepted", "80");
    allowed(&m, "ns1/src", "10.0.9.9", "80");
    denied(&m, "ns1/src", "10.0.5.9", "80");
}

// ---- ports and protocols ----

#[test]
fn port_without_protocol_is_tcp() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{port: 80}]}]
"#);
    allowed(&m, "ns1/a", "ns1/b", "80");
    allowed(&m, "ns1/a", "ns1/b", "80/TCP");
    denied(&m, "ns1/a", "ns1/b", "80/UDP");
    denied(&m, "ns1/a", "ns1/b", "80/SCTP");
    denied(&m, "ns1/a", "ns1/b", "81");
}

#[test]
fn protocol_without_port_is_every_port_of_that_protocol() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{protocol: UDP}]}]
"#);
    for q in ["1/UDP", "53/UDP", "65535/UDP", "UDP"] {
        allowed(&m, "ns1/a", "ns1/b", q);
    }
    for q in ["53", "53/SCTP", "TCP", "SCTP"] {
        denied(&m, "ns1/a", "ns1/b", q);
    }
}

#[test]
fn end_port_range_is_inclusive() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - ports:
    - {port: 8000, endPort: 8080}
    - {port: 3000, endPort: 3000, protocol: UDP}
"#);
    for q in ["8000", "8040", "8080", "3000/UDP"] {
        allowed(&m, "ns1/a", "ns1/b", q);
    }
    for q in ["7999", "8081", "8000/UDP", "2999/UDP", "3001/UDP", "3000"] {
        denied(&m, "ns1/a", "ns1/b", q);
    }
}

#[test]
fn sctp_and_udp_are_distinct_protocols() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: p, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - ports:
    - {port: 3868, protocol: SCTP}
    - {port: 53, protocol: UDP}
"#);
    allowed(&m, "ns1/a", "ns1/b", "3868/SCTP");
    allowed(&m, "ns1/a", "ns1/b", "SCTP");
    allowed(&m, "ns1/a", "ns1/b", "53/UDP");
    denied(&m, "ns1/a", "ns1/b", "3868");
    denied(&m, "ns1/a", "ns1/b", "3868/UDP");
    denied(&m, "ns1/a", "ns1/b", "53");
    denied(&m, "ns1/a", "ns1/b", "53/SCTP");
    denied(&m, "ns1/a", "ns1/b", "TCP");
}

// ---- named ports ----

fn named_port_model(policy: &str) -> Model {
    model(&[
        pod("ns1", "a", "app: a", "10.0.0.1"),
        pod_ports("ns1", "b1", "app: b", "10.0.0.11", &[("http", 8080, "TCP")]),
        pod_ports(
            "ns1",
            "b2",
            "app: b",
            "10.0.0.12",
            &[("http", 9090, "TCP"), ("metrics", 8080, "TCP")],
        ),
        pod_ports("ns1", "b3", "app: b", "10.0.0.13", &[("web", 8080, "TCP")]),
        pod_ports("ns1", "b4", "app: b", "10.0.0.14", &[("http", 80, "UDP")]),
        policy.to_string(),
    ])
}

#[test]
fn named_ingress_port_resolves_on_each_destination() {
    let m = named_port_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: http-in, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: http}]
"#,
    );
    allowed(&m, "ns1/a", "ns1/b1", "8080");
    denied(&m, "ns1/a", "ns1/b1", "9090");
    allowed(&m, "ns1/a", "ns1/b2", "9090");
    denied(&m, "ns1/a", "ns1/b2", "8080");
    // No container port named http.
    denied(&m, "ns1/a", "ns1/b3", "8080");
    denied(&m, "ns1/a", "ns1/b3", "any");
    // http is a UDP port there; the rule's port is TCP.
    denied(&m, "ns1/a", "ns1/b4", "80/UDP");
    denied(&m, "ns1/a", "ns1/b4", "80");
}

#[test]
fn named_ingress_port_with_its_protocol() {
    let m = named_port_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: http-udp, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - ports: [{port: http, protocol: UDP}]
"#,
    );
    allowed(&m, "ns1/a", "ns1/b4", "80/UDP");
    allowed(&m, "192.0.2.1", "ns1/b4", "80/UDP");
    denied(&m, "ns1/a", "ns1/b1", "8080");
    denied(&m, "ns1/a", "ns1/b1", "8080/UDP");
}

#[test]
fn named_egress_port_resolves_on_the_destination() {
    let m = named_port_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: http-out, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: metrics}]
"#,
    );
    allowed(&m, "ns1/a", "ns1/b1", "8080");
    denied(&m, "ns1/a", "ns1/b1", "9090");
    allowed(&m, "ns1/a", "ns1/b2", "9090");
    // 8080 is b2's "metrics", and the ipBlock peer holds b2's address.
    allowed(&m, "ns1/a", "ns1/b2", "8080");
    denied(&m, "ns1/a", "ns1/b3", "8080");
    denied(&m, "ns1/a", "ns1/b3", "any");
    // Not the source's own ports: a has none, and that does not matter.
    // An address outside the cluster has no named ports, whatever the peer.
    denied(&m, "ns1/a", "192.0.2.1", "8080");
    denied(&m, "ns1/a", "192.0.2.1", "9090");
    denied(&m, "ns1/a", "192.0.2.1", "any");
}

// ---- address families ----

#[test]
fn ipv6_pods_and_blocks() {
    let m = model(&[
        pod("ns1", "dst", "app: dst", "fd00:1::1"),
        pod("ns1", "near", "", "fd00:1::1:1"),
        pod("ns1", "excepted", "", "fd00:1::ff"),
        pod("ns1", "far", "", "fd00:2::1"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: v6, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from: [{ipBlock: {cidr: "fd00:1::/64", except: ["fd00:1::/120"]}}]
"#
        .into(),
    ]);
    allowed(&m, "ns1/near", "ns1/dst", "80");
    denied(&m, "ns1/excepted", "ns1/dst", "80");
    denied(&m, "ns1/far", "ns1/dst", "80");
    allowed(&m, "fd00:1::abcd:1", "ns1/dst", "80");
    denied(&m, "fd00:3::1", "ns1/dst", "80");
    // An IPv4 address can never reach an IPv6-only pod.
    denied(&m, "10.0.0.1", "ns1/dst", "80");
}

#[test]
fn dual_stack_pods_and_single_family_blocks() {
    let dual = |name: &str, labels: &str, v4: &str, v6: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ns1, labels: {{{labels}}}}}\nstatus:\n  podIP: \"{v4}\"\n  podIPs: [{{ip: \"{v4}\"}}, {{ip: \"{v6}\"}}]\n"
        )
    };
    let m = model(&[
        dual("dst", "app: dst", "10.0.0.1", "fd00::1"),
        dual("src", "", "10.0.0.2", "fd00::2"),
        dual("src6", "", "10.9.0.3", "fd00::3"),
        pod("ns1", "v6only", "", "fd00::4"),
        pod("ns1", "v4only", "", "10.0.0.5"),
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: v4-block, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/24}}]
    ports: [{port: 80}]
  - from: [{ipBlock: {cidr: "fd00::3/128"}}]
    ports: [{port: 443}]
"#
        .into(),
    ]);
    // The IPv4 block admits src over IPv4 only.
    allowed(&m, "ns1/src", "ns1/dst", "80@v4");
    denied(&m, "ns1/src", "ns1/dst", "80@v6");
    allowed(&m, "ns1/src", "ns1/dst", "80");
    // The IPv6 block admits src6 over IPv6 only.
    allowed(&m, "ns1/src6", "ns1/dst", "443@v6");
    denied(&m, "ns1/src6", "ns1/dst", "443@v4");
    denied(&m, "ns1/src6", "ns1/dst", "80");
    denied(&m, "ns1/src", "ns1/dst", "443");
    // Single-stack sources.
    allowed(&m, "ns1/v4only", "ns1/dst", "80");
    denied(&m, "ns1/v6only", "ns1/dst", "80");
    denied(&m, "ns1/v6only", "ns1/dst", "443");
    // Pods of different families share no family: nothing flows.
    allowed(&m, "ns1/v4only", "ns1/src", "80");
    denied(&m, "ns1/v4only", "ns1/v6only", "80");
    let r = flow(&m, "ns1/v4only", "ns1/v6only", "80");
    assert!(r.note.is_some(), "{r:?}");
}

// ---- hostNetwork pods and nodes ----

fn node_model(policy: &str) -> Model {
    model(&[
        pod_on("ns1", "dst", "app: dst", "10.0.0.1", "n1", "192.168.0.1"),
        pod_on(
            "ns1",
            "other",
            "app: other",
            "10.0.1.1",
            "n2",
            "192.168.0.2",
        ),
        host_pod("ns1", "h1", "app: h", "n1", "192.168.0.1"),
        host_pod("ns1", "h2", "app: h", "n2", "192.168.0.2"),
        host_pod("ns1", "h3", "app: h", "n3", "192.168.1.3"),
        policy.to_string(),
    ])
}

#[test]
fn host_network_pods_are_never_isolated() {
    let m = node_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-everything, namespace: ns1}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"#,
    );
    // h2 is selected by the policy but, being hostNetwork, is not isolated by it.
    allowed(&m, "ns1/h2", "ns1/h3", "80");
    allowed(&m, "ns1/h2", "8.8.8.8", "53/UDP");
    allowed(&m, "8.8.8.8", "ns1/h2", "22");
    // The ordinary pods are isolated both ways.
    denied(&m, "ns1/other", "ns1/h2", "80");
    denied(&m, "ns1/h1", "ns1/other", "80");
    denied(&m, "ns1/other", "8.8.8.8", "53/UDP");
}

#[test]
fn host_network_sources_match_only_ip_blocks_of_their_node() {
    let m = node_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: selectors, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: h}}
    - namespaceSelector: {}
      podSelector: {}
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: nodes, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: other}}
  ingress:
  - from: [{ipBlock: {cidr: 192.168.1.0/24}}]
  egress:
  - to:
    - podSelector: {matchLabels: {app: h}}
    - namespaceSelector: {}
  - to: [{ipBlock: {cidr: 192.168.1.3/32}}]
"#,
    );
    // Selectors never match hostNetwork pods, whatever their labels...
    denied(&m, "ns1/h2", "ns1/dst", "80");
    denied(&m, "ns1/h3", "ns1/dst", "80");
    allowed(&m, "ns1/other", "ns1/dst", "80");
    // ...while an ipBlock holding the node's address does.
    allowed(&m, "ns1/h3", "ns1/other", "80");
    denied(&m, "ns1/h1", "ns1/other", "80");
    denied(&m, "ns1/dst", "ns1/other", "80");
    // As destinations too: selectors miss them, an ipBlock of the node hits.
    denied(&m, "ns1/other", "ns1/h1", "80");
    allowed(&m, "ns1/other", "ns1/h3", "80");
    allowed(&m, "ns1/other", "ns1/dst", "80");
}

#[test]
fn host_network_pods_on_the_same_node_reach_isolated_pods() {
    let m = node_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-in, namespace: ns1}
spec:
  podSelector: {}
  ingress: []
"#,
    );
    allowed(&m, "ns1/h1", "ns1/dst", "80");
    allowed(&m, "ns1/h1", "ns1/dst", "53/UDP");
    denied(&m, "ns1/h2", "ns1/dst", "80");
    allowed(&m, "ns1/h2", "ns1/other", "80");
    denied(&m, "ns1/h1", "ns1/other", "80");
}

#[test]
fn ingress_from_the_own_node_address_is_always_allowed() {
    let m = node_model(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: dst}}
  policyTypes: [Ingress, Egress]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: other-to-node, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: other}}
  policyTypes: [Ingress, Egress]
  egress: [{to: [{ipBlock: {cidr: 192.168.0.2/32}}]}]
"#,
    );
    // The kubelet's probes come from the node: allowed into the isolated pod.
    allowed(&m, "192.168.0.1", "ns1/dst", "8080");
    allowed(&m, "192.168.0.2", "ns1/other", "8080");
    // Another node is not the pod's own.
    denied(&m, "192.168.0.2", "ns1/dst", "8080");
    denied(&m, "192.168.0.1", "ns1/other", "8080");
    // No exception for egress: the pod's traffic to its node follows egress policy.
    denied(&m, "ns1/dst", "192.168.0.1", "10250");
    denied(&m, "ns1/dst", "ns1/h1", "10250");
    allowed(&m, "ns1/other", "192.168.0.2", "10250");
    allowed(&m, "ns1/other", "ns1/h2", "10250");
    denied(&m, "ns1/other", "ns1/h1", "10250");
}

// ---- combination ----

#[test]
fn a_pod_can_always_reach_itself() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: ns1}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"#);
    for q in ["any", "80", "53/UDP", "3868/SCTP"] {
        allowed(&m, "ns1/b", "ns1/b", q);
        denied(&m, "ns1/b", "ns1/a", q);
    }
}

#[test]
fn source_egress_and_destination_ingress_are_both_required() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: a-out, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: b}}}]}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: b-in, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: c}}}]}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: c-in, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: c}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]
"#);
    // a's egress allows b, b's ingress does not allow a.
    denied(&m, "ns1/a", "ns1/b", "80");
    // c's ingress allows a, a's egress does not allow c.
    denied(&m, "ns1/a", "ns1/c", "80");
    // Both ends agree.
    allowed(&m, "ns1/c", "ns1/b", "80");
    // Open egress of b, closed ingress of c.
    denied(&m, "ns1/b", "ns1/c", "80");
}

#[test]
fn policies_are_additive_and_order_free() {
    let p1 = r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: ns1}
spec:
  podSelector: {}
  ingress: []
"#;
    let p2 = r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: a-80, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}]
"#;
    let p3 = r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: c-443, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: c}}}], ports: [{port: 443}]}]
"#;
    let forward = abc(&[p1, p2, p3].concat());
    let backward = abc(&[p3, p2, p1].concat());
    for m in [&forward, &backward] {
        allowed(m, "ns1/a", "ns1/b", "80");
        denied(m, "ns1/a", "ns1/b", "443");
        allowed(m, "ns1/c", "ns1/b", "443");
        denied(m, "ns1/c", "ns1/b", "80");
        denied(m, "ns1/a", "ns1/c", "80");
    }
    let cols = columns();
    let f = Matrix::compute(&forward, &cols);
    let b = Matrix::compute(&backward, &cols);
    let n = forward.cluster.endpoints.len();
    for k in 0..cols.len() {
        for i in 0..n {
            assert_eq!(f.row(k, i), b.row(k, i));
        }
    }
}

// ---- workloads ----

#[test]
fn workload_templates_are_endpoints() {
    let m = model(&[
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: shop}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: intruder, namespace: shop}
spec:
  selector: {matchLabels: {app: intruder}}
  template:
    metadata: {labels: {app: intruder}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{port: http}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
    ports: [{port: 80}]
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 443}]
"#
        .into(),
        pod("shop", "api-7f9c-1", "app: api", "10.0.0.1"),
    ]);
    allowed(&m, "shop/client", "shop/web", "8080");
    allowed(&m, "shop/deploy/client", "shop/deploy/web", "8080");
    denied(&m, "shop/client", "shop/web", "9090");
    denied(&m, "shop/intruder", "shop/web", "8080");
    // A template has no address yet: only a block covering every address surely admits
    // it; whether 10.0.0.0/8 holds the one it gets is unknown.
    unknown(&m, "shop/client", "shop/api-7f9c-1", "80");
    allowed(&m, "shop/client", "shop/api-7f9c-1", "443");
    // The api Deployment owns a pod in the input, so the pod stands for it.
    assert!(matches!(
        resolve_target(&m.cluster, "shop/deploy/api", &NameScope::in_namespace("default")),
        Ok(Target::Endpoints { ref ids, .. })
            if ids.len() == 1 && m.cluster.endpoint_name(ids[0]) == "shop/api-7f9c-1"
    ));
    allowed(&m, "shop/deploy/api", "shop/deploy/client", "80");
    denied(&m, "shop/deploy/api", "shop/deploy/web", "8080");
}

// ---- matrix against reach on larger manifests ----

#[test]
fn matrix_agrees_with_reach_on_a_mixed_cluster() {
    let m = model(&[
        namespace("ns1", "team: a"),
        namespace("ns2", "team: b"),
        pod_on("ns1", "a", "app: a", "10.0.0.1", "n1", "192.168.0.1"),
        pod_on(
            "ns1",
            "b",
            "app: b, env: prod",
            "10.0.0.2",
            "n1",
            "192.168.0.1",
        ),
        pod_ports(
            "ns1",
            "web",
            "app: web",
            "10.0.0.3",
            &[("http", 8080, "TCP"), ("dns", 53, "UDP")],
        ),
        pod_ports(
            "ns2",
            "web",
            "app: web",
            "10.0.1.3",
            &[("http", 9090, "TCP")],
        ),
        pod("ns2", "c", "app: c", "10.0.1.1"),
        pod("ns2", "v6", "app: c", "fd00::1"),
        host_pod("ns1", "h1", "app: h", "n1", "192.168.0.1"),
        host_pod("ns2", "h2", "app: h", "n2", "192.168.0.2"),
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {name: job, namespace: ns2}
spec:
  selector: {matchLabels: {app: job}}
  template:
    metadata: {labels: {app: job}}
    spec:
      containers:
      - name: j
        ports: [{name: http, containerPort: 80}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: web, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [job]}]}
    - podSelector: {matchLabels: {env: prod}}
    ports: [{port: http}, {port: dns, protocol: UDP}]
  - from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.0.0/24]}}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: out, namespace: ns1}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [a, b]}]}
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{port: http}, {port: 8000, endPort: 8080}]
  - to: [{ipBlock: {cidr: 10.0.1.0/24}}]
    ports: [{protocol: SCTP}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: ns2-default, namespace: ns2}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns1}}}]
  egress:
  - to: [{podSelector: {}}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: http}]
"#
        .into(),
    ]);
    let (yes, no) = assert_matrix_agrees(&m, &columns());
    assert!(yes > 0 && no > 0, "allowed {yes}, denied {no}");
}

#[test]
fn matrix_agrees_with_reach_across_many_endpoints() {
    // More than 64 endpoints, so that bitset words and the transpose blocks are crossed.
    let mut parts = vec![namespace("left", "side: l"), namespace("right", "side: r")];
    for i in 0..40 {
        let (ns, net) = if i % 2 == 0 {
            ("left", 1)
        } else {
            ("right", 2)
        };
        parts.push(pod_ports(
            ns,
            &format!("p{i}"),
            &format!("app: p{}, tier: t{}", i, i % 3),
            &format!("10.{net}.0.{i}"),
            &[("http", 8000 + (i % 4) as u16 * 40, "TCP")],
        ));
        parts.push(pod(
            ns,
            &format!("q{i}"),
            &format!("tier: t{}", i % 5),
            &format!("10.3.{}.{i}", i % 2),
        ));
    }
    parts.push(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: left-in, namespace: left}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: In, values: [t0, t1]}]}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {side: r}}, podSelector: {matchLabels: {tier: t2}}}]
    ports: [{port: http}]
  - from: [{ipBlock: {cidr: 10.3.0.0/16, except: [10.3.1.0/24]}}]
    ports: [{port: 80}, {port: 53, protocol: UDP}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: right-out, namespace: right}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {side: l}}}]
    ports: [{port: 8000, endPort: 8080}]
"#
        .into(),
    );
    let m = model(&parts);
    assert!(m.cluster.endpoints.len() > 64);
    let (yes, no) = assert_matrix_agrees(&m, &columns());
    assert!(yes > 0 && no > 0, "allowed {yes}, denied {no}");
}

// ---- explanations ----

#[test]
fn explanation_names_the_isolating_policy_and_the_reason() {
    let m = abc(r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: from-a, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}]
"#);
    let ok = explain::render(&m, &flow(&m, "ns1/a", "ns1/b", "80"));
    assert!(
        ok.contains("ALLOWED") && ok.contains("ns1/from-a ingress[0].from[0]"),
        "{ok}"
    );
    let no = explain::render(&m, &flow(&m, "ns1/c", "ns1/b", "80"));
    assert!(no.contains("DENIED") && no.contains("app=a"), "{no}");
    let port = explain::render(&m, &flow(&m, "ns1/a", "ns1/b", "81"));
    assert!(
        port.contains("DENIED") && port.contains("port does not"),
        "{port}"
    );
}

// ---- bad input ----

/// Parses a one-policy manifest that must fail with one error, at `line`, naming the
/// object and containing `needle`.
#[track_caller]
fn bad_policy(spec: &str, line: usize, needle: &str) {
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: fine, namespace: shop}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: bad\n  namespace: shop\nspec:\n  podSelector: {{}}\n{spec}"
    );
    let m = parse_manifest("bad.yaml", &text, "default");
    assert_eq!(m.errors.len(), 1, "{:?}\n{text}", m.errors);
    assert_eq!(m.objects.len(), 1, "the good pod is still read");
    let e = m.errors[0].to_string();
    let head = format!("bad.yaml:{line}: NetworkPolicy shop/bad: ");
    assert!(e.starts_with(&head), "expected {head:?}, got {e:?}\n{text}");
    assert!(e.contains(needle), "expected {needle:?} in {e:?}");
}

// The policy's spec starts at line 12 in `bad_policy`.

#[test]
fn bad_input_invalid_cidr() {
    bad_policy(
        "  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.300/24\n",
        15,
        "invalid CIDR \"10.0.0.300/24\"",
    );
    bad_policy(
        "  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8}\n    - ipBlock:\n        cidr: 10.0.0.0/8\n        except: [10.1.0.0]\n",
        17,
        "spec.egress[0].to[1].ipBlock",
    );
}

#[test]
fn bad_input_except_outside_cidr() {
    bad_policy(
        "  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except:\n        - 10.0.1.0/24\n        - 10.1.0.0/24\n",
        18,
        "strict subset",
    );
    bad_policy(
        "  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except: [10.0.0.0/12]\n",
        16,
        "strict subset",
    );
    bad_policy(
        "  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except: [\"fd00::/64\"]\n",
        16,
        "address family",
    );
}

#[test]
fn bad_input_port_out_of_range() {
    bad_policy(
        "  egress:\n  - ports:\n    - port: 443\n    - port: 65536\n",
        15,
        "spec.egress[0].ports[1].port: port 65536 is out of range",
    );
    bad_policy(
        "  ingress:\n  - ports:\n    - port: 8000\n      endPort: 70000\n",
        15,
        "spec.ingress[0].ports[0].endPort",
    );
}

#[test]
fn bad_input_end_port_with_named_port() {
    bad_policy(
        "  egress:\n  - ports:\n    - port: http\n      endPort: 8080\n",
        15,
        "named port",
    );
}

#[test]
fn bad_input_end_port_below_port() {
    bad_policy(
        "  ingress:\n  - ports:\n    - port: 9000\n      endPort: 8999\n",
        15,
        "endPort 8999 must be greater than or equal to port 9000",
    );
    // The line is the endPort's, not an earlier one that merely contains its digits.
    bad_policy(
        "  ingress:\n  - ports:\n    - port: 8080\n    - port: 90\n      endPort: 80\n",
        16,
        "spec.ingress[0].ports[1].endPort",
    );
    bad_policy(
        "  ingress:\n  - ports:\n    - endPort: 8999\n",
        14,
        "numeric port",
    );
}

#[test]
fn bad_input_unknown_operator() {
    bad_policy(
        "  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions:\n        - key: team\n          operator: Matches\n          values: [x]\n",
        17,
        "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0]",
    );
    bad_policy(
        "  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {key: team, operator: in, values: [x]}\n",
        16,
        "unknown matchExpressions operator \"in\"",
    );
}

#[test]
fn bad_input_ip_block_with_selector_in_one_peer() {
    bad_policy(
        "  ingress:\n  - from:\n    - podSelector: {}\n    - podSelector: {matchLabels: {a: b}}\n      ipBlock: {cidr: 10.0.0.0/8}\n",
        16,
        "may not combine ipBlock",
    );
    bad_policy(
        "  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      namespaceSelector: {}\n",
        14,
        "spec.egress[0].to[0]",
    );
}

#[test]
fn bad_input_unknown_policy_type() {
    bad_policy(
        "  policyTypes:\n  - Ingress\n  - Egres\n",
        14,
        "unknown policy type \"Egres\"",
    );
}

#[test]
fn named_ports_never_match_a_host_network_destination() {
    // A hostNetwork pod is its node; a named port resolves only on (non-host) pods,
    // while a numeric port towards the node's address still matches.
    let mut parts = vec![
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: hn, namespace: ns1, labels: {app: hn}}\nspec:\n  hostNetwork: true\n  nodeName: n1\n  containers:\n  - name: c\n    ports: [{name: http, containerPort: 8080}]\nstatus: {podIP: 192.168.9.1, hostIP: 192.168.9.1}\n".to_string(),
        pod_ports("ns1", "web", "app: web", "10.9.0.2", &[("http", 8080, "TCP")]),
        pod("ns1", "client", "app: client", "10.9.0.3"),
    ];
    parts.push(
        r#"---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: egress-named, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: client}}
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: http}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: egress-numeric, namespace: ns1}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 192.168.9.0/24}}]
    ports: [{port: 8080}]
"#
        .to_string(),
    );
    let m = model(&parts);
    allowed(&m, "ns1/client", "ns1/web", "8080");
    denied(&m, "ns1/client", "ns1/hn", "8080");
    allowed(&m, "ns1/web", "ns1/hn", "8080");
    denied(&m, "ns1/web", "ns1/hn", "8081");
    let r = flow(&m, "ns1/client", "ns1/hn", "8080");
    assert!(explain::render(&m, &r).contains("a hostNetwork pod is its node"));
}
