//! The unprogrammed-pod guard by default, from each node's own `spec.podCIDRs`: the real
//! controller binary against the API server fake over real HTTP, in a two-node kernel
//! lab. A pod address of the node's CIDR that the API does not show yet has no network
//! (real packets) until its pod appears; the guard holds while the controller is killed
//! (SIGKILL) and while a restarted one cannot reach the API server. Needs root; never
//! skipped.

mod common;

use common::lab::Lab;
use common::{fake_text, model, testdata, Controller};
use netfence_apifake::ApiFake;
use netfence_model::Protocol;
use netfence_netns::Probe;
use netfence_nft::Summary;
use netfence_nft::{render_ruleset, RenderOptions};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::{Duration, Instant};

const PORTS: [(Protocol, u16); 2] = [(Protocol::Tcp, 80), (Protocol::Udp, 81)];

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| {
            let v: Value = serde::Deserialize::deserialize(d).ok()?;
            (!v.is_null()).then_some(v)
        })
        .collect()
}

fn pod(name: &str, ip: &str, node: &str, host: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "x", "labels": {"pod": name}},
        "spec": {"nodeName": node, "containers": [{"name": "c"}]},
        "status": {"podIP": ip, "hostIP": host}})
}

fn cidrs(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

struct Setup {
    fake: ApiFake,
    lab: Lab,
    kubeconfig: std::path::PathBuf,
    /// The guard each node's Node object asks for, by lab node.
    guards: Vec<Vec<ipnet::IpNet>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// Lab pods x/a, x/b (node-1), x/c (node-2) in the API; x/d, x/f (node-1) and x/e
/// (node-2) only in the kernel lab. node-1 has `spec.podCIDRs`, node-2 only the older
/// `spec.podCIDR`. As in a cluster, a node's CIDRs hold no other node's pods (the guard
/// drops any address of them that is not a local pod).
fn setup(tag: &str) -> Setup {
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    let mut objects = docs(&base);
    objects.push(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
        "spec": {"podCIDR": "10.10.0.32/27", "podCIDRs": ["10.10.0.32/27", "fd00:10:1::/64"]}}),
    );
    objects.push(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"},
        "spec": {"podCIDR": "10.10.0.64/26"}}),
    );
    let fake = ApiFake::start(objects);
    let lab = Lab::build(
        &model(&base),
        &PORTS,
        &[
            ("x/d", "node-1", "10.10.0.60".parse().unwrap()),
            ("x/f", "node-1", "10.10.0.61".parse().unwrap()),
            ("x/e", "node-2", "10.10.0.70".parse().unwrap()),
        ],
    );
    let guards = lab
        .nodes
        .iter()
        .map(|n| match n.name.as_str() {
            "node-1" => cidrs(&["10.10.0.32/27", "fd00:10:1::/64"]),
            _ => cidrs(&["10.10.0.64/26"]),
        })
        .collect();
    let kubeconfig =
        std::env::temp_dir().join(format!("netfence-{tag}-{}.kubeconfig", std::process::id()));
    std::fs::write(&kubeconfig, fake.kubeconfig("default")).unwrap();
    Setup {
        fake,
        lab,
        kubeconfig,
        guards,
    }
}

impl Setup {
    fn start(&self, node: &str) -> Controller {
        let kc = self.kubeconfig.display().to_string();
        Controller::start(&self.lab, node, &[], &[("KUBECONFIG", &kc)])
    }

    /// Waits until every node's kernel holds the fake's objects with that node's guard,
    /// then forgets tracked connections.
    fn wait_guarded(&self, what: &str) {
        let m = model(&fake_text(&self.fake));
        let deadline = Instant::now() + Duration::from_secs(20);
        for (n, guard) in self.lab.nodes.iter().zip(&self.guards) {
            let opts = RenderOptions {
                unprogrammed_guard: guard.clone(),
                ..RenderOptions::default()
            };
            let expected = Summary::of_ruleset(
                &render_ruleset(&m, &self.lab.node_view(n), &opts).expect("render"),
            );
            loop {
                let reading = self.lab.nft(&n.name).read_table().ok().flatten();
                if reading.as_ref().map(Summary::of_reading) == Some(expected.clone()) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: node {} does not hold the ruleset guarding {guard:?}",
                    n.name
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            self.lab.forget_connections(&n.name);
        }
    }

    fn reaches(&self, from: &str, to: &str, port: u16) -> bool {
        let addr: IpAddr = self.lab.pods[to].0.expect("an IPv4 address").into();
        self.lab.topo.probe(&Probe::tcp(from, addr, port)).unwrap()
    }
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_pod_address_of_the_node_cidr_has_no_network_until_its_pod_is_enforced() {
    let s = setup("nodeguard");
    let ctls: Vec<Controller> = s.lab.nodes.iter().map(|n| s.start(&n.name)).collect();
    s.wait_guarded("initial sync");
    for (c, guard) in ctls.iter().zip(&s.guards) {
        assert_eq!(
            c.metric("netfence_unprogrammed_guard_cidrs"),
            guard.len() as f64
        );
    }
    // Unprogrammed addresses neither send nor receive; programmed pods are unaffected.
    assert!(
        !s.reaches("x/d", "x/a", 80),
        "x/d is not enforced yet: must not send"
    );
    assert!(
        !s.reaches("x/b", "x/d", 80),
        "x/d is not enforced yet: must not receive"
    );
    assert!(
        !s.reaches("x/e", "x/c", 80),
        "x/e (node-2's CIDR) must not send"
    );
    assert!(
        s.reaches("x/b", "x/a", 80),
        "programmed pods keep their network"
    );

    s.fake
        .apply(pod("d", "10.10.0.60", "node-1", "192.168.50.1"));
    s.fake
        .apply(pod("e", "10.10.0.70", "node-2", "192.168.50.2"));
    s.wait_guarded("pods appeared");
    s.lab
        .assert_agrees(&model(&fake_text(&s.fake)), "pods appeared");
    assert!(
        s.reaches("x/d", "x/a", 80),
        "x/d is enforced (no policy): allowed"
    );
    assert!(s.reaches("x/b", "x/d", 80));
    assert!(s.reaches("x/e", "x/c", 80));
    // x/f is still unknown.
    assert!(!s.reaches("x/f", "x/a", 80));
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn the_guard_holds_while_the_controller_is_killed_or_cannot_sync() {
    let s = setup("nodeguard-kill");
    let mut ctls: Vec<Controller> = s.lab.nodes.iter().map(|n| s.start(&n.name)).collect();
    s.wait_guarded("initial sync");
    let node_1 = s.lab.nodes.iter().position(|n| n.name == "node-1").unwrap();
    ctls[node_1].child.kill().unwrap(); // SIGKILL: no chance to clean anything up
    ctls[node_1].child.wait().unwrap();
    assert!(
        s.lab.nft("node-1").list_table().unwrap().is_some(),
        "the table must outlive the controller"
    );
    // A new pod starts while the controller is dead: the API knows it, the kernel not.
    s.fake
        .apply(pod("f", "10.10.0.61", "node-1", "192.168.50.1"));
    s.lab.forget_connections("node-1");
    assert!(
        !s.reaches("x/f", "x/a", 80),
        "a new pod got network while the controller was dead"
    );
    assert!(
        !s.reaches("x/b", "x/f", 80),
        "a new pod got network while the controller was dead"
    );
    assert!(
        s.reaches("x/b", "x/a", 80),
        "enforced pods keep their network"
    );

    // Crash loop: the controller comes back while the API server is unreachable; it
    // must not touch the table before it has synced (the node included).
    s.fake.set_down(true);
    ctls[node_1] = s.start("node-1");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ctls[node_1].get("/readyz").map(|r| r.0), Some(503));
    assert!(
        !s.reaches("x/f", "x/a", 80),
        "unsynced controller opened the guard"
    );

    s.fake.set_down(false);
    s.wait_guarded("synced again");
    assert!(
        s.reaches("x/f", "x/a", 80),
        "x/f is enforced now (no policy): allowed"
    );
    assert!(s.reaches("x/b", "x/f", 80));
    assert!(!s.reaches("x/d", "x/a", 80), "x/d is still unknown");
}
