//! The semantic exceptions, asked three ways with one answer: `reach`, the matrix and
//! the rendered ruleset in a real kernel (probed with packets). A pod's traffic to
//! itself is allowed; traffic from its own node (and so from a hostNetwork pod of that
//! node) is allowed into an isolated pod; a hostNetwork pod is never isolated and a
//! named port never resolves on it; an isolated pod admits only what a rule allows.
//! Root.

mod common;

use common::lab::Lab;
use netfence_analyzer::{reach, Flow, Matrix, MatrixPort, Party};
use netfence_model::ports::PortRef;
use netfence_model::{compile_text, Family, Protocol};
use netfence_nft::RenderOptions;

const MODEL: &str = r#"
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
# hostNetwork on node-2: it is its node, defines the named port web, and the egress
# policy below selects every pod of x, which must not isolate it.
apiVersion: v1
kind: Pod
metadata: {name: h, namespace: x, labels: {app: h}}
spec: {nodeName: node-2, hostNetwork: true, containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}
status: {podIPs: [{ip: 192.168.79.2}], hostIPs: [{ip: 192.168.79.2}]}
---
# hostNetwork on node-1, a's node: what it sends to a comes from a's own node.
apiVersion: v1
kind: Pod
metadata: {name: h1, namespace: x, labels: {app: h1}}
spec: {nodeName: node-1, hostNetwork: true, containers: [{name: c}]}
status: {podIPs: [{ip: 192.168.79.1}], hostIPs: [{ip: 192.168.79.1}]}
---
# a admits b on its named port web (80) only.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: web}]}]
---
# Every pod of x may send only to the named port web.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-web, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: web}]}]
"#;

#[test]
fn exceptions_get_one_answer_from_reach_the_matrix_and_the_kernel() {
    let model = compile_text("exceptions.yaml", MODEL, "default").unwrap();
    let id = |k: &str| model.cluster.endpoint_by_key(k).unwrap();
    let (a, b, c, h, h1) = (id("x/a"), id("x/b"), id("x/c"), id("x/h"), id("x/h1"));
    let tcp = |from, to, port| {
        reach(
            &model,
            Flow {
                from,
                to,
                protocol: Some(Protocol::Tcp),
                port: Some(port),
                family: Some(Family::V4),
            },
        )
        .allowed
    };
    use Party::Endpoint as E;
    // The exceptions, as the API reference defines them.
    assert!(tcp(E(a), E(a), 9000), "a pod may always talk to itself");
    assert!(tcp(E(b), E(a), 80), "b is admitted on web");
    assert!(!tcp(E(c), E(a), 80), "c is not admitted");
    assert!(!tcp(E(b), E(a), 8080), "b only on web");
    assert!(tcp(E(h), E(b), 8080), "h is not isolated for egress");
    assert!(tcp(E(h1), E(a), 9000), "a admits its own node (h1 is it)");
    assert!(!tcp(E(h), E(a), 9000), "another node is not admitted");
    assert!(
        !tcp(E(b), E(h), 80),
        "b's egress allows web, which never resolves on the hostNetwork h"
    );
    assert!(
        !tcp(E(b), E(c), 8080),
        "web resolves on no port of c: b's egress denies it"
    );

    // The matrix agrees with reach on every pair and port probed below.
    let ports = [
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 8080),
        (Protocol::Tcp, 9000),
    ];
    let columns: Vec<MatrixPort> = ports
        .iter()
        .map(|&(protocol, p)| MatrixPort {
            port: PortRef::Number(p),
            protocol,
        })
        .collect();
    let matrix = Matrix::compute(&model, &columns);
    let mut compared = 0;
    for (col, &(_, port)) in ports.iter().enumerate() {
        for s in [a, b, c, h, h1] {
            for d in [a, b, c, h, h1] {
                assert_eq!(
                    matrix.allowed(col, s.index(), d.index()),
                    tcp(E(s), E(d), port),
                    "matrix and reach differ on {} -> {} port {port}",
                    model.cluster.endpoint_name(s),
                    model.cluster.endpoint_name(d)
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 75);

    // The kernel agrees with reach on every probe the lab can make (pods, the node and
    // its hostNetwork pods as sources, each pod as destination, on these ports).
    let lab = Lab::build(&model, &ports, &[]);
    lab.load_full(&model, &RenderOptions::default());
    let (allowed, denied) = lab.assert_agrees(&model, "exceptions");
    assert!(
        allowed > 0 && denied > 0,
        "{allowed} allowed, {denied} denied"
    );
}
