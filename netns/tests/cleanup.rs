//! Namespaces never outlive their topology: after a drop, after a panic, after a failed
//! build; leftovers of dead runs (or of an earlier process with the same pid) are removed.
//! One test function: the checks look at every namespace of this process.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use netfence_netns::{
    cleanup_dead_runs, cleanup_stale, list_namespaces, run_prefix, NodeSpec, PodSpec, Probe,
    Topology, TopologySpec,
};

fn spec() -> TopologySpec {
    let pod = |name: &str, v4: &str, v6: &str| PodSpec {
        name: name.into(),
        v4: Some(v4.parse().unwrap()),
        v6: Some(v6.parse().unwrap()),
        tcp_ports: vec![80],
        udp_ports: vec![53],
        sctp_ports: vec![80],
    };
    TopologySpec {
        nodes: vec![
            NodeSpec {
                pods: vec![pod("ns/x", "10.244.1.2", "fd00:10:244:1::2")],
                ..NodeSpec::new(
                    "n1",
                    "172.18.0.2".parse().unwrap(),
                    "fc00:f853:ccd:e793::2".parse().unwrap(),
                )
            },
            NodeSpec {
                pods: vec![pod("ns/y", "10.244.2.2", "fd00:10:244:2::2")],
                ..NodeSpec::new(
                    "n2",
                    "172.18.0.3".parse().unwrap(),
                    "fc00:f853:ccd:e793::3".parse().unwrap(),
                )
            },
        ],
    }
}

fn ours() -> Vec<String> {
    list_namespaces(&run_prefix()).unwrap()
}

fn ip(args: &[&str]) {
    let st = std::process::Command::new("ip")
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "ip {args:?}");
}

fn works(t: &Topology) {
    let y4 = t.addr_v4("ns/y").unwrap();
    let y6 = t.addr_v6("ns/y").unwrap();
    let probes = [
        Probe::tcp("ns/x", y4, 80),
        Probe::udp("ns/x", y6, 53),
        Probe::sctp("n1", y6, 80),
    ];
    assert_eq!(t.probe_all(&probes).unwrap(), [true, true, true]);
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn namespaces_never_outlive_their_topology() {
    let prefix = run_prefix();
    assert!(ours().is_empty(), "{:?}", ours());

    // Leftovers of a dead process: removed by cleanup_dead_runs, and by every build.
    // (99999999 is above any pid_max, so no such process can exist.)
    ip(&["netns", "add", "nfx99999999-0-n0"]);
    let removed = cleanup_dead_runs().unwrap();
    assert!(
        removed.contains(&"nfx99999999-0-n0".to_string()),
        "{removed:?}"
    );
    assert!(list_namespaces("nfx99999999-").unwrap().is_empty());
    ip(&["netns", "add", "nfx99999999-1-n0"]);
    drop(Topology::build(&spec()).expect("build (needs root)"));
    assert!(list_namespaces("nfx99999999-").unwrap().is_empty());
    assert!(ours().is_empty(), "{:?}", ours());

    // cleanup_stale takes any prefix.
    ip(&["netns", "add", "nfxtest-stale-a"]);
    ip(&["netns", "add", "nfxtest-stale-b"]);
    let removed = cleanup_stale("nfxtest-stale-").unwrap();
    assert_eq!(removed, ["nfxtest-stale-a", "nfxtest-stale-b"]);
    assert!(list_namespaces("nfxtest-stale-").unwrap().is_empty());

    // Drop.
    let t = Topology::build(&spec()).expect("build (needs root)");
    assert_eq!(list_namespaces(t.prefix()).unwrap().len(), 4);
    works(&t);
    drop(t);
    assert!(ours().is_empty(), "{:?}", ours());

    // A panic while the topology is alive (the guard is the topology itself).
    let seen = Mutex::new(String::new());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let t = Topology::build(&spec()).expect("build (needs root)");
        *seen.lock().unwrap() = t.prefix().to_string();
        works(&t);
        panic!("a failing test");
    }));
    assert!(r.is_err());
    let p = seen.into_inner().unwrap();
    assert!(p.starts_with(&prefix), "{p}");
    assert!(ours().is_empty(), "{:?}", ours());

    // A build that fails late (a port listed twice cannot be bound twice): everything it
    // had created is gone.
    let mut bad = spec();
    bad.nodes[1].pods[0].tcp_ports = vec![80, 80];
    let e = Topology::build(&bad)
        .err()
        .expect("duplicate listener must fail");
    assert!(e.to_string().contains("80"), "{e}");
    assert!(ours().is_empty(), "{:?}", ours());

    // Leftovers under this very prefix (an earlier process with the same pid) do not
    // break the next build: it deletes the names it is about to use first.
    for k in 0..16 {
        let name = format!("{prefix}{k}-n0");
        ip(&["netns", "add", &name]);
        ip(&[
            "-n", &name, "link", "add", "nft1", "type", "veth", "peer", "name", "x",
        ]);
    }
    let t = Topology::build(&spec()).expect("build over leftovers");
    works(&t);
    drop(t);
    cleanup_stale(&prefix).unwrap();
    assert!(ours().is_empty(), "{:?}", ours());
}
