//! The ruleset in a real kernel. Nodes and pods are network namespaces (netfence-netns);
//! every node loads only its own ruleset; real TCP, UDP and SCTP packets are sent
//! between every ordered pair of pods, from every node to every pod and from every pod
//! to every node, over IPv4 and IPv6; each verdict must equal the analyzer's.
//!
//! Needs root (CI runs as root); these tests fail rather than skip without it.

mod common;

use common::lab::{declared_ports, Lab};
use netfence_model::{compile_text, Model, Protocol};
use netfence_nft::RenderOptions;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// One lab at a time in this process: each lab holds hundreds of listener sockets, and
/// libnftables (the kept context the deltas go through) waits on its netlink socket with
/// select(), which aborts the process when that socket's number is past FD_SETSIZE
/// (1024). Six labs at once reached ~1,900 descriptors.
fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn model(text: &str) -> Model {
    compile_text("t.yaml", text, "default").unwrap_or_else(|e| panic!("{e:?}"))
}

const E2E_PORTS: [(Protocol, u16); 6] = [
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 81),
    (Protocol::Udp, 80),
    (Protocol::Udp, 81),
    (Protocol::Sctp, 80),
    (Protocol::Sctp, 81),
];

/// The upstream e2e model (x, y, z / a, b, c, two nodes) under every scenario.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn e2e_scenarios_agree_with_the_analyzer() {
    let _lab = one_lab_at_a_time();
    let base = read(&testdata().join("e2e/model.yaml"));
    let lab = Lab::build(&model(&base), &E2E_PORTS, &[]);
    let mut dir: Vec<PathBuf> = std::fs::read_dir(testdata().join("e2e/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    assert!(dir.len() >= 30, "scenarios missing");
    let mut cross_node_denials = 0;
    let (a, d) = lab.assert_agrees(&model(&base), "no policy");
    assert_eq!(d, 0, "without policies everything is allowed");
    assert!(a > 0);
    for path in dir {
        let text = format!("{base}\n---\n{}", read(&path));
        let m = model(&text);
        lab.load_full(&m, &RenderOptions::default());
        // Isolated IPv6 pods must find their neighbours again through the ruleset.
        for node in &lab.nodes {
            lab.topo
                .exec(&node.name, &["ip", "-6", "neigh", "flush", "all"])
                .unwrap();
        }
        let label = path.file_stem().unwrap().to_string_lossy().to_string();
        let (_, denied) = lab.assert_agrees(&m, &label);
        if label == "default-deny-all" {
            // x/a and x/b run on node-1, x/c on node-2: cross-node flows are denied too.
            cross_node_denials += denied;
        }
    }
    assert!(cross_node_denials > 0);
}

/// Going from each e2e scenario to the next through a delta (chains and sets created,
/// refilled, deleted; elements moved) leaves every node's kernel exactly as a full
/// replace with the next scenario does (`update` checks that); every verdict of the
/// states themselves is probed in `e2e_scenarios_agree_with_the_analyzer`.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn scenario_to_scenario_deltas_leave_what_a_full_replace_leaves() {
    let _lab = one_lab_at_a_time();
    let base = read(&testdata().join("e2e/model.yaml"));
    let lab = Lab::build(&model(&base), &E2E_PORTS, &[]);
    let mut dir: Vec<PathBuf> = std::fs::read_dir(testdata().join("e2e/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    let mut current = lab.load_full(&model(&base), &RenderOptions::default());
    let mut structural = 0;
    // Forwards, then backwards: every transition both ways.
    let there_and_back: Vec<&PathBuf> = dir.iter().chain(dir.iter().rev()).collect();
    for path in there_and_back {
        let m = model(&format!("{base}\n---\n{}", read(path)));
        match update(&lab, &mut current, &m) {
            UpdatePath::Structure => structural += 1,
            UpdatePath::Elements => {}
            UpdatePath::Full => panic!(
                "{}: a policy change should not replace the table",
                path.display()
            ),
        }
    }
    assert!(structural >= dir.len(), "most transitions change chains");
}

/// Every scenario of testdata/ that has pods with addresses.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn testdata_scenarios_agree_with_the_analyzer() {
    let _lab = one_lab_at_a_time();
    for (label, files) in [
        ("demo", vec!["demo"]),
        ("bad/good", vec!["bad/good.yaml"]),
        ("wide", vec!["wide"]),
    ] {
        let mut text = String::new();
        for f in files {
            let p = testdata().join(f);
            let paths: Vec<PathBuf> = if p.is_dir() {
                let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                v.sort();
                v
            } else {
                vec![p]
            };
            for p in paths {
                text.push_str(&read(&p));
                text.push_str("\n---\n");
            }
        }
        let m = model(&text);
        let ports = declared_ports(&m, &[(Protocol::Tcp, 80)], 6);
        let lab = Lab::build(&m, &ports, &[]);
        let rulesets = lab.load_full(
            &m,
            &RenderOptions {
                counters: true,
                log_group: Some(5),
                unprogrammed_guard: Vec::new(),
            },
        );
        // The nft-syntax form (what `compile` prints) loads into the same kernel state
        // as the JSON form that was just applied.
        for (node, rs) in lab.nodes.iter().zip(&rulesets) {
            let from_json = listing(&lab, &node.name);
            lab.nft(&node.name)
                .run_script(&netfence_nft::text::replace_script(rs))
                .expect("nft -f of the text form");
            assert_eq!(
                from_json,
                listing(&lab, &node.name),
                "{label}: text and JSON differ"
            );
        }
        // Forget every neighbour: isolated IPv6 pods must rediscover them through the
        // ruleset (neighbour discovery is accepted before any policy).
        for node in &lab.nodes {
            lab.topo
                .exec(&node.name, &["ip", "-6", "neigh", "flush", "all"])
                .unwrap();
        }
        lab.assert_agrees(&m, label);
    }
}

/// Random clusters from the generator: a seeded batch per run.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn random_scenarios_agree_with_the_analyzer() {
    let _lab = one_lab_at_a_time();
    let start: u64 = std::env::var("NETFENCE_KERNEL_SEED_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let count: u64 = std::env::var("NETFENCE_KERNEL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for seed in start..start + count {
        let mut cfg = netfence_synth::SynthConfig::small(seed);
        cfg.dual_stack = seed % 2 == 0;
        let text = netfence_synth::generate(&cfg);
        let m = model(&text);
        let ports = declared_ports(&m, &[(Protocol::Udp, 53), (Protocol::Sctp, 9000)], 7);
        let lab = Lab::build(&m, &ports, &[]);
        lab.load_full(&m, &RenderOptions::default());
        lab.assert_agrees(&m, &format!("synth seed {seed}"));
    }
}

/// The listing of our table, normalised (handles and counters dropped, elements sorted)
/// and arranged so that only meaning counts, not creation order: sets, maps and chains
/// by name, rules by chain in their order.
fn listing(lab: &Lab, node: &str) -> serde_json::Value {
    let v = lab.nft(node).list_table().unwrap().expect("table present");
    let v = netfence_nft::apply::normalize_listing(&v);
    let mut objects = std::collections::BTreeMap::new();
    let mut rules: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    for item in v["nftables"].as_array().into_iter().flatten() {
        if let Some(rule) = item.get("rule") {
            let chain = rule["chain"].as_str().unwrap_or_default().to_string();
            rules.entry(chain).or_default().push(rule.clone());
        } else {
            objects.insert(item.to_string(), item.clone());
        }
    }
    serde_json::json!({ "objects": objects.into_values().collect::<Vec<_>>(), "rules": rules })
}

/// How an update reached the kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum UpdatePath {
    /// Only set and map elements changed.
    Elements,
    /// Chains or sets were created, refilled or deleted, in a delta.
    Structure,
    /// Some node's table was replaced whole.
    Full,
}

/// Applies `next` to every node the way the controller will: the delta when the frame
/// (base chains, maps) is unchanged, a full replace otherwise. Checks that the kernel
/// then holds exactly what a full replace of the same ruleset gives.
fn update(lab: &Lab, current: &mut [netfence_nft::Ruleset], next: &Model) -> UpdatePath {
    let mut path = UpdatePath::Elements;
    for (i, node) in lab.nodes.iter().enumerate() {
        let rs =
            netfence_nft::render_ruleset(next, &lab.node_view(node), &RenderOptions::default())
                .expect("render");
        let nft = lab.nft(&node.name);
        match netfence_nft::diff(&current[i], &rs) {
            netfence_nft::Change::None => {}
            netfence_nft::Change::Delta(d) => {
                if d.is_structural() && path == UpdatePath::Elements {
                    path = UpdatePath::Structure;
                }
                // As the controller applies deltas: through a libnftables context kept
                // open in the node's namespace.
                let session =
                    netfence_nft::Kept::start(nft.netns.as_deref()).expect("a libnftables context");
                session.apply_delta(&d).unwrap_or_else(|e| {
                    panic!("the delta to {} failed: {e}\n{:#}", node.name, d.document())
                });
                let after_delta = listing(lab, &node.name);
                nft.replace(&rs).expect("full");
                assert_eq!(
                    after_delta,
                    listing(lab, &node.name),
                    "delta and full replace leave different kernel states on {}",
                    node.name
                );
            }
            netfence_nft::Change::Full => {
                path = UpdatePath::Full;
                nft.replace(&rs).expect("full");
            }
        }
        lab.forget_connections(&node.name);
        current[i] = rs;
    }
    path
}

/// Pods relabelled, created and deleted, namespaces relabelled (element deltas), and
/// policies changed and deleted (chains and sets created, refilled, deleted); probed
/// after every step.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn updates_through_the_delta_path_agree_with_the_analyzer() {
    let _lab = one_lab_at_a_time();
    let base = read(&testdata().join("e2e/model.yaml"));
    let policies = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-y-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: b}}}]\n    ports: [{port: 80}, {port: serve-81-udp, protocol: UDP}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress-to-b, namespace: \"y\"}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {pod: b}}, namespaceSelector: {}}]\n";
    let new_pod = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: \"y\", labels: {pod: b}}\nspec:\n  nodeName: node-2\n  containers:\n  - name: cont\n    ports: [{name: serve-81-udp, containerPort: 81, protocol: UDP}]\nstatus:\n  hostIPs: [{ip: 192.168.50.2}, {ip: \"fd00:50::2\"}]\n  podIP: 10.10.0.50\n";
    let v0 = format!("{base}\n{policies}");
    let m0 = model(&v0);
    let lab = Lab::build(
        &m0,
        &E2E_PORTS,
        &[("y/d", "node-2", "10.10.0.50".parse().unwrap())],
    );
    let mut current = lab.load_full(&m0, &RenderOptions::default());
    lab.assert_agrees(&m0, "initial");

    // y/c is relabelled pod=b: it joins the peer sets.
    let v1 = v0.replacen(
        "  name: c\n  namespace: \"y\"\n  labels: {pod: c}",
        "  name: c\n  namespace: \"y\"\n  labels: {pod: b}",
        1,
    );
    assert_ne!(v1, v0);
    let m1 = model(&v1);
    assert_eq!(
        update(&lab, &mut current, &m1),
        UpdatePath::Elements,
        "a relabel is an element delta"
    );
    lab.assert_agrees(&m1, "pod relabelled");

    // Namespace z is relabelled ns=y.
    let v2 = v1.replacen(
        "  name: z\n  labels: {ns: z}",
        "  name: z\n  labels: {ns: \"y\"}",
        1,
    );
    assert_ne!(v2, v1);
    let m2 = model(&v2);
    assert_eq!(
        update(&lab, &mut current, &m2),
        UpdatePath::Elements,
        "a namespace relabel is an element delta"
    );
    lab.assert_agrees(&m2, "namespace relabelled");

    // A pod is created (it already has its namespace in the kernel).
    let v3 = format!("{v2}\n{new_pod}");
    let m3 = model(&v3);
    assert_eq!(
        update(&lab, &mut current, &m3),
        UpdatePath::Elements,
        "a new pod is an element delta"
    );
    lab.assert_agrees(&m3, "pod created");

    // A policy changes its ports: its chains are refilled.
    let v4 = v3.replacen("ports: [{port: 80}, ", "ports: [{port: 81}, ", 1);
    assert_ne!(v4, v3);
    let m4 = model(&v4);
    assert_eq!(
        update(&lab, &mut current, &m4),
        UpdatePath::Structure,
        "a policy change refills its chains"
    );
    lab.assert_agrees(&m4, "policy updated");

    // The pod is deleted again, then a policy.
    let m5 = model(&v2.replacen("ports: [{port: 80}, ", "ports: [{port: 81}, ", 1));
    assert_eq!(
        update(&lab, &mut current, &m5),
        UpdatePath::Elements,
        "a deleted pod is an element delta"
    );
    lab.assert_agrees(&m5, "pod deleted");
    let without_egress = v2
        .replacen("ports: [{port: 80}, ", "ports: [{port: 81}, ", 1)
        .split("\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress-to-b")
        .next()
        .unwrap()
        .to_string();
    let m6 = model(&without_egress);
    assert_eq!(m6.cluster.policies.len(), 1);
    assert_eq!(
        update(&lab, &mut current, &m6),
        UpdatePath::Structure,
        "a deleted policy takes its chains and sets with it"
    );
    lab.assert_agrees(&m6, "policy deleted");
}

/// kube-proxy (iptables or nftables mode) rewrites a Service address in prerouting;
/// policies see the backend and its target port. A NAT table of our own stands in for
/// kube-proxy; the probes go to the Service address.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn service_traffic_is_checked_after_dnat() {
    let _lab = one_lab_at_a_time();
    let base = read(&testdata().join("e2e/model.yaml"));
    let policy = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n    ports: [{port: 81, protocol: TCP}, {port: 81, protocol: UDP}]\n";
    let m = model(&format!("{base}\n{policy}"));
    let lab = Lab::build(&m, &E2E_PORTS, &[]);
    lab.load_full(&m, &RenderOptions::default());
    // Service 10.96.0.10 port 8081 -> x/a (10.10.0.1) targetPort 81, on both nodes.
    let nat = "table ip kubeproxy {\n chain pre { type nat hook prerouting priority dstnat; policy accept;\n  ip daddr 10.96.0.10 tcp dport 8081 dnat to 10.10.0.1:81\n  ip daddr 10.96.0.10 udp dport 8081 dnat to 10.10.0.1:81\n }\n chain out { type nat hook output priority -100; policy accept;\n  ip daddr 10.96.0.10 tcp dport 8081 dnat to 10.10.0.1:81\n }\n}\n";
    for n in &lab.nodes {
        lab.topo.nft(&n.name, nat, false).unwrap();
    }
    // The node's own traffic needs a route to the Service range before output DNAT.
    let veth = lab.topo.host_interface("x/a").unwrap().to_string();
    lab.topo
        .exec(
            "node-1",
            &["ip", "route", "add", "10.96.0.0/12", "dev", &veth],
        )
        .unwrap();
    let vip: std::net::IpAddr = "10.96.0.10".parse().unwrap();
    let dst: std::net::IpAddr = "10.10.0.1".parse().unwrap();
    let (mut allowed, mut denied) = (0, 0);
    for (src, proto) in [
        ("x/b", netfence_netns::Protocol::Tcp),
        ("x/b", netfence_netns::Protocol::Udp),
        ("x/c", netfence_netns::Protocol::Tcp),
        ("y/b", netfence_netns::Protocol::Tcp),
        ("y/a", netfence_netns::Protocol::Udp),
        ("z/c", netfence_netns::Protocol::Tcp),
        ("node-1", netfence_netns::Protocol::Tcp),
    ] {
        let probe = netfence_netns::Probe::new(src, dst, proto, 81).through(vip, 8081);
        let kernel = lab.topo.probe(&probe).unwrap();
        let protocol = match proto {
            netfence_netns::Protocol::Tcp => Protocol::Tcp,
            _ => Protocol::Udp,
        };
        let from = match m.cluster.endpoint_by_key(src) {
            Some(e) => netfence_analyzer::Party::Endpoint(e),
            None => netfence_analyzer::Party::External("192.168.50.1/32".parse().unwrap()),
        };
        let r = netfence_analyzer::reach(
            &m,
            netfence_analyzer::Flow {
                from,
                to: netfence_analyzer::Party::Endpoint(m.cluster.endpoint_by_key("x/a").unwrap()),
                protocol: Some(protocol),
                port: Some(81),
                family: Some(netfence_model::Family::V4),
            },
        );
        assert_eq!(
            kernel,
            r.allowed,
            "{probe}\n{}",
            netfence_analyzer::explain::render(&m, &r)
        );
        if kernel {
            allowed += 1;
        } else {
            denied += 1;
        }
    }
    // x/b (TCP and UDP) and the node are allowed; the others are denied.
    assert_eq!((allowed, denied), (3, 4));
}
