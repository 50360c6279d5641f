//! The semantic exceptions, one test each, every one asked three ways with one answer:
//! `reach`, the matrix and the rendered ruleset in a real kernel (probed with packets
//! between network namespaces). The expected verdicts come from the API reference
//! (see ../shared/semantics.md), never from our output. Root.

mod common;

use common::lab::Lab;
use netfence_analyzer::{reach, Flow, Matrix, MatrixPort, Party};
use netfence_model::ports::PortRef;
use netfence_model::{compile_text, Family, Model, Protocol};
use netfence_nft::RenderOptions;
use std::sync::{Mutex, MutexGuard};

/// One lab at a time (see kernel.rs: libnftables' select() and FD_SETSIZE).
fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Pods `a` (node-1) and `b`, `c` (node-2) in namespace x, and the hostNetwork pods
/// `h1` (node-1) and `h2` (node-2), each of which is its node.
const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {nodeName: node-1, containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}
status: {podIPs: [{ip: 10.79.0.1}], hostIPs: [{ip: 192.168.79.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec: {nodeName: node-2, containers: [{name: c, ports: [{name: web, containerPort: 8080}]}]}
status: {podIPs: [{ip: 10.79.1.1}], hostIPs: [{ip: 192.168.79.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: x, labels: {app: c}}
spec: {nodeName: node-2, containers: [{name: c}]}
status: {podIPs: [{ip: 10.79.1.2}], hostIPs: [{ip: 192.168.79.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: h1, namespace: x, labels: {app: h1}}
spec: {nodeName: node-1, hostNetwork: true, containers: [{name: c}]}
status: {podIPs: [{ip: 192.168.79.1}], hostIPs: [{ip: 192.168.79.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: h2, namespace: x, labels: {app: h2}}
spec: {nodeName: node-2, hostNetwork: true, containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}
status: {podIPs: [{ip: 192.168.79.2}], hostIPs: [{ip: 192.168.79.2}]}
"#;

const PORTS: [(Protocol, u16); 3] = [
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 8080),
    (Protocol::Tcp, 9000),
];

fn tcp(model: &Model, from: &str, to: &str, port: u16) -> bool {
    let id = |k: &str| Party::Endpoint(model.cluster.endpoint_by_key(k).unwrap());
    reach(
        model,
        Flow {
            from: id(from),
            to: id(to),
            protocol: Some(Protocol::Tcp),
            port: Some(port),
            family: Some(Family::V4),
        },
    )
    .allowed
}

/// Asserts each expectation through reach, then that the matrix answers as reach on
/// every pair and port, then that the kernel answers as reach on every probe the lab
/// can make (pods, the nodes and so their hostNetwork pods, on `PORTS`).
fn one_answer(label: &str, policies: &str, expected: &[(&str, &str, u16, bool, &str)]) {
    let model = compile_text(label, &format!("{PODS}---\n{policies}"), "default").unwrap();
    for (from, to, port, allowed, why) in expected {
        assert_eq!(
            tcp(&model, from, to, *port),
            *allowed,
            "{label}: {from} -> {to}:{port}: {why}"
        );
    }

    let columns: Vec<MatrixPort> = PORTS
        .iter()
        .map(|&(protocol, p)| MatrixPort {
            port: PortRef::Number(p),
            protocol,
        })
        .collect();
    let matrix = Matrix::compute(&model, &columns);
    let keys: Vec<String> = ["a", "b", "c", "h1", "h2"]
        .iter()
        .map(|n| format!("x/{n}"))
        .collect();
    for (col, &(_, port)) in PORTS.iter().enumerate() {
        for s in &keys {
            for d in &keys {
                let (si, di) = (
                    model.cluster.endpoint_by_key(s).unwrap().index(),
                    model.cluster.endpoint_by_key(d).unwrap().index(),
                );
                assert_eq!(
                    matrix.allowed(col, si, di),
                    tcp(&model, s, d, port),
                    "{label}: matrix and reach differ on {s} -> {d} port {port}"
                );
            }
        }
    }

    let _lab = one_lab_at_a_time();
    let lab = Lab::build(&model, &PORTS, &[]);
    lab.load_full(&model, &RenderOptions::default());
    let (allowed, denied) = lab.assert_agrees(&model, label);
    assert!(
        allowed > 0 && denied > 0,
        "{label}: {allowed} allowed, {denied} denied: the probes must see both verdicts"
    );
}

const DENY_ALL_A: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-a, namespace: x}
spec: {podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress, Egress]}
"#;

/// A pod's traffic to itself is allowed whatever isolates it. The lab cannot probe it
/// in the kernel (a pod's packets to its own address never leave its namespace; the
/// ruleset's `self` rule is for hairpinned Service traffic), so the kernel part of this
/// test checks the other pairs of the same isolated pod.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_pod_may_always_reach_itself() {
    one_answer(
        "self",
        DENY_ALL_A,
        &[
            ("x/a", "x/a", 9000, true, "a pod may always talk to itself"),
            ("x/b", "x/a", 80, false, "a is isolated for ingress"),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn ingress_from_the_pods_own_node_is_allowed() {
    one_answer(
        "own node",
        DENY_ALL_A,
        &[
            ("x/h1", "x/a", 9000, true, "h1 is a's own node"),
            ("x/h2", "x/a", 9000, false, "h2 is another node"),
            ("x/c", "x/a", 9000, false, "a pod is not the node"),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn egress_to_the_pods_own_node_follows_its_egress_policy() {
    one_answer(
        "egress to own node",
        DENY_ALL_A,
        &[
            (
                "x/a",
                "x/h1",
                9000,
                false,
                "no egress exception for the own node",
            ),
            ("x/a", "x/b", 9000, false, "a is isolated for egress"),
            ("x/b", "x/h1", 9000, true, "b is not isolated"),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn host_network_pods_are_never_isolated() {
    one_answer(
        "hostNetwork subject",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"#,
        &[
            (
                "x/h2",
                "x/h1",
                9000,
                true,
                "neither is isolated, both are nodes",
            ),
            ("x/a", "x/h2", 80, false, "a's egress is isolated"),
            (
                "x/h2",
                "x/a",
                80,
                false,
                "a's ingress is isolated, h2 is not its node",
            ),
            ("x/h1", "x/a", 80, true, "h1 is a's own node"),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn selectors_never_choose_a_host_network_pod() {
    one_answer(
        "hostNetwork peer",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-h2-by-label, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: h2}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-node-1-by-address, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{ipBlock: {cidr: 192.168.79.1/32}}]}]
"#,
        &[
            (
                "x/h2",
                "x/a",
                9000,
                false,
                "a podSelector never matches a hostNetwork pod",
            ),
            (
                "x/h1",
                "x/b",
                9000,
                true,
                "an ipBlock of its node's address matches it",
            ),
            ("x/c", "x/b", 9000, false, "c is not in the ipBlock"),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn named_ports_never_resolve_on_a_host_network_destination() {
    one_answer(
        "named port",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-web, namespace: x}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Egress]
  egress: [{ports: [{port: web}]}]
"#,
        &[
            ("x/c", "x/a", 80, true, "web is 80 on a"),
            ("x/c", "x/b", 8080, true, "web is 8080 on b"),
            ("x/c", "x/b", 80, false, "web is not 80 on b"),
            (
                "x/c",
                "x/h2",
                80,
                false,
                "web never resolves on the hostNetwork h2",
            ),
        ],
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_pod_no_policy_selects_is_open_and_a_selected_one_admits_only_its_rules() {
    one_answer(
        "open and isolated",
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-b-on-web, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: web}]}]
"#,
        &[
            ("x/a", "x/c", 9000, true, "c is selected by no policy"),
            ("x/b", "x/a", 80, true, "the rule admits b on web"),
            ("x/b", "x/a", 8080, false, "only on web"),
            ("x/c", "x/a", 80, false, "only b"),
        ],
    );
}
