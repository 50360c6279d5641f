//! The real controller binary in standalone mode (`--manifests DIR`), one per node of a
//! two-node lab, driven by file edits; after each step every probe must agree with the
//! analyzer. Also: restart without an open window, nft failures, drift repair,
//! revoked connections, cleanup. Needs root; never skipped.

mod common;

use common::lab::Lab;
use common::Dir;
use common::{model, testdata, wait_enforced, Controller};
use netfence_model::Protocol;
use std::path::Path;
use std::time::Duration;

const PORTS: [(Protocol, u16); 4] = [
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 81),
    (Protocol::Udp, 80),
    (Protocol::Sctp, 81),
];

fn scenario(name: &str) -> String {
    std::fs::read_to_string(
        testdata()
            .join("e2e/scenarios")
            .join(format!("{name}.yaml")),
    )
    .unwrap()
}

fn start_all(lab: &Lab, dir: &Dir, extra: &[&str], env: &[(&str, &str)]) -> Vec<Controller> {
    let d = dir.path().display().to_string();
    let mut args = vec!["--manifests", d.as_str(), "--poll-ms", "50"];
    args.extend_from_slice(extra);
    lab.nodes
        .iter()
        .map(|n| Controller::start(lab, &n.name, &args, env))
        .collect()
}

fn step(lab: &Lab, dir: &Dir, what: &str) {
    let m = model(&dir.text());
    wait_enforced(lab, &m, what);
    lab.assert_agrees(&m, what);
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn file_edits_are_enforced_and_agree_with_the_analyzer() {
    let dir = Dir::new("standalone");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    let ctls = start_all(&lab, &dir, &[], &[]);
    step(&lab, &dir, "no policy");

    dir.write("10-policy.yaml", &scenario("pod-and-namespace-selector"));
    step(&lab, &dir, "policy added");

    dir.write("10-policy.yaml", &scenario("named-port-ingress"));
    step(&lab, &dir, "policy replaced");

    dir.write("20-deny.yaml", &scenario("multiple-namespaces-deny-all"));
    step(&lab, &dir, "second file");

    // A relabelled pod and namespace.
    dir.write(
        "00-model.yaml",
        &base
            .replacen(
                "  name: b\n  namespace: \"y\"\n  labels: {pod: b}",
                "  name: b\n  namespace: \"y\"\n  labels: {pod: a}",
                1,
            )
            .replacen(
                "  name: z\n  labels: {ns: z}",
                "  name: z\n  labels: {ns: \"y\"}",
                1,
            ),
    );
    step(&lab, &dir, "relabelled");

    // A malformed object: reported and skipped, the rest still enforced, and the last
    // valid version of that policy stays.
    let before = ctls[0].metric("netfence_errors_total");
    let good = scenario("named-port-ingress");
    dir.write(
        "10-policy.yaml",
        &good.replace("port: serve-80-tcp", "port: 70000"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ctls[0].metric("netfence_errors_total") <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the invalid object was not reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kept = dir
        .text()
        .replace(&good.replace("port: serve-80-tcp", "port: 70000"), &good);
    let m = model(&kept);
    wait_enforced(&lab, &m, "invalid update");
    lab.assert_agrees(&m, "invalid update keeps the last valid policy");

    dir.remove("10-policy.yaml");
    dir.remove("20-deny.yaml");
    step(&lab, &dir, "policies deleted");
    for c in &ctls {
        assert_eq!(c.get("/readyz").map(|r| r.0), Some(200));
        assert!(c.metric("netfence_applies_total") >= 1.0);
    }
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn restart_keeps_rules_and_opens_no_window() {
    let dir = Dir::new("restart");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    dir.write("10-deny.yaml", &scenario("default-deny-all"));
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    let mut ctls = start_all(&lab, &dir, &[], &[]);
    step(&lab, &dir, "before restart");
    // A denied flow: x/b -> x/a (default-deny-all in x).
    let denied =
        netfence_netns::Probe::tcp("x/b", "10.10.0.1".parse::<std::net::IpAddr>().unwrap(), 80);
    assert!(!lab.topo.probe(&denied).unwrap());
    for c in &mut ctls {
        c.stop();
    }
    // Stopped: the rules are still there.
    assert!(!lab.topo.probe(&denied).unwrap());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut leaks = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if lab.topo.probe(&denied).unwrap() {
                    leaks += 1;
                }
            }
            leaks
        });
        let ctls = start_all(&lab, &dir, &[], &[]);
        step(&lab, &dir, "after restart");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            watcher.join().unwrap(),
            0,
            "a denied flow got through during the restart"
        );
        drop(ctls);
    });
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn nft_failures_keep_the_old_rules_and_are_retried() {
    let dir = Dir::new("nftfail");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    // An `nft` that fails while a flag file exists, run for every change (`--nft`).
    let bin = Dir::new("nftfail-bin");
    let flag = bin.path().join("fail");
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft installed");
    let wrapper = bin.path().join("nft");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ -e {} ]; then echo 'injected failure' >&2; exit 1; fi\nexec {real} \"$@\"\n",
            flag.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &wrapper.display().to_string()])
        .status()
        .unwrap();
    let nft = wrapper.display().to_string();
    let ctls = start_all(&lab, &dir, &["--nft", &nft], &[]);
    step(&lab, &dir, "initial");
    let old = model(&dir.text());
    std::fs::write(&flag, "").unwrap();
    dir.write("10-deny.yaml", &scenario("default-deny-ingress"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ctls[0].metric("netfence_errors_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failure was not reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for n in &lab.nodes {
        lab.forget_connections(&n.name);
    }
    lab.assert_agrees(&old, "nft failing: the old rules stay");
    std::fs::remove_file(&flag).unwrap();
    step(&lab, &dir, "after nft recovers");
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn drift_is_repaired_and_cleanup_removes_only_our_table() {
    let dir = Dir::new("drift");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    dir.write("10-deny.yaml", &scenario("default-deny-all"));
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    let ctls = start_all(&lab, &dir, &[], &[]);
    step(&lab, &dir, "initial");
    let node = &lab.nodes[0].name;
    lab.topo
        .exec(
            node,
            &["nft", "flush", "chain", "inet", "netfence", "ingress"],
        )
        .unwrap();
    step(&lab, &dir, "after a flush");
    lab.topo
        .exec(node, &["nft", "delete", "table", "inet", "netfence"])
        .unwrap();
    step(&lab, &dir, "after the table was deleted");
    assert!(ctls[0].metric("netfence_drift_repairs_total") >= 2.0);
    drop(ctls);
    // Someone else's table survives our cleanup.
    lab.topo.nft(node, "table ip other {\n chain c {\n  type filter hook forward priority 10; policy accept;\n }\n}\n", false).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netfence-controller"))
        .args(["cleanup", "--netns", lab.topo.netns(node).unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed table inet netfence"));
    let tables = lab.topo.exec(node, &["nft", "list", "tables"]).unwrap();
    assert!(tables.contains("table ip other"), "{tables}");
    assert!(!tables.contains("netfence"), "{tables}");
}

/// An echo server inside a pod's namespace, and a client connection from another pod.
fn echo_pair(lab: &Lab, server_pod: &str, addr: &str, client_pod: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let server = netfence_netns::Worker::start(lab.topo.netns(server_pod).unwrap()).unwrap();
    let bind = addr.to_string();
    let listener = server
        .run(move || std::net::TcpListener::bind(bind))
        .expect("listen");
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let client = netfence_netns::Worker::start(lab.topo.netns(client_pod).unwrap()).unwrap();
    let to: std::net::SocketAddr = addr.parse().unwrap();
    let conn = client
        .run(move || std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)))
        .expect("connect");
    conn.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    std::mem::forget(server);
    std::mem::forget(client);
    conn
}

fn echoes(conn: &mut std::net::TcpStream) -> bool {
    use std::io::{Read, Write};
    if conn.write_all(b"ping").is_err() {
        return false;
    }
    let mut buf = [0u8; 4];
    matches!(conn.read(&mut buf), Ok(4))
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn revoked_connections_are_cut_and_drops_are_named() {
    let dir = Dir::new("revoke");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    let ctls = start_all(&lab, &dir, &["--nflog-group", "7"], &[]);
    let m0 = model(&dir.text());
    let logged = netfence_nft::RenderOptions {
        counters: false,
        log_group: Some(7),
        unprogrammed_guard: Vec::new(),
    };
    common::wait_kernel(&lab, &m0, &logged, "initial");
    // An established connection x/b -> x/a:9999, then a policy that denies it.
    let mut conn = echo_pair(&lab, "x/a", "10.10.0.1:9999", "x/b");
    assert!(echoes(&mut conn), "the connection works before the policy");
    dir.write("10-deny.yaml", &scenario("default-deny-ingress"));
    let m1 = model(&dir.text());
    common::wait_kernel(&lab, &m1, &logged, "deny added");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let node_a = lab.nodes.iter().position(|n| n.name == "node-1").unwrap();
    while ctls[node_a].metric("netfence_connections_cut_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no connection was cut"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!echoes(&mut conn), "a revoked connection must stop working");

    // The drop is reported with names and the isolating policy.
    let denied =
        netfence_netns::Probe::tcp("x/c", "10.10.0.1".parse::<std::net::IpAddr>().unwrap(), 80);
    assert!(!lab.topo.probe(&denied).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = ctls[node_a].get("/drops").expect("/drops");
        if body
            .contains("dropped x/c -> x/a 80/TCP: x/a is isolated for ingress by [x/deny-ingress]")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no named drop report: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn unprogrammed_pods_are_dropped_until_programmed() {
    let dir = Dir::new("gap");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let lab = Lab::build(
        &model(&base),
        &PORTS,
        &[("x/d", "node-1", "10.10.0.60".parse().unwrap())],
    );
    let ctls = start_all(&lab, &dir, &["--drop-unprogrammed", "10.10.0.0/24"], &[]);
    let guarded = netfence_nft::RenderOptions {
        counters: false,
        log_group: None,
        unprogrammed_guard: vec!["10.10.0.0/24".parse().unwrap()],
    };
    common::wait_kernel(&lab, &model(&dir.text()), &guarded, "initial");
    let to_a =
        netfence_netns::Probe::tcp("x/d", "10.10.0.1".parse::<std::net::IpAddr>().unwrap(), 80);
    let to_d =
        netfence_netns::Probe::tcp("x/b", "10.10.0.60".parse::<std::net::IpAddr>().unwrap(), 80);
    assert!(
        !lab.topo.probe(&to_a).unwrap(),
        "an unprogrammed pod must not send"
    );
    assert!(
        !lab.topo.probe(&to_d).unwrap(),
        "an unprogrammed pod must not receive"
    );
    // Known pods are not affected.
    assert!(lab
        .topo
        .probe(&netfence_netns::Probe::tcp(
            "x/b",
            "10.10.0.1".parse::<std::net::IpAddr>().unwrap(),
            80
        ))
        .unwrap());
    dir.write(
        "05-new-pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: x, labels: {pod: d}}\nspec: {nodeName: node-1}\nstatus: {podIP: 10.10.0.60, hostIPs: [{ip: 192.168.50.1}, {ip: \"fd00:50::1\"}]}\n",
    );
    common::wait_kernel(&lab, &model(&dir.text()), &guarded, "pod programmed");
    for n in &lab.nodes {
        lab.forget_connections(&n.name);
    }
    assert!(lab.topo.probe(&to_a).unwrap());
    assert!(lab.topo.probe(&to_d).unwrap());
    drop(ctls);
}

/// Issue 10's drop-attribution bug: per-policy drop counters came from the drop rule's
/// comment read back from the kernel, which nft clips to 127 bytes, so a pod under six
/// long-named policies had five of them never counted and a fragment of a name as a
/// label. Attribution now comes from what the renderer knows of each chain.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn drops_are_counted_for_every_isolating_policy_whatever_their_names() {
    let dir = Dir::new("attribution");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let names: Vec<String> = (0..6)
        .map(|i| format!("allow-from-monitoring-and-logging-agents-{i}"))
        .collect();
    let policies: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {n}, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: monitoring}}}}}}]}}]\n"
            )
        })
        .collect();
    dir.write("10-long-names.yaml", &policies.join("---\n"));
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    // The harness runs the drift check (which publishes the counters) every second.
    let ctls = start_all(&lab, &dir, &[], &[]);
    let m = model(&dir.text());
    let counted = netfence_nft::RenderOptions {
        counters: true,
        log_group: None,
        unprogrammed_guard: Vec::new(),
    };
    common::wait_kernel(&lab, &m, &counted, "six policies");
    let denied =
        netfence_netns::Probe::tcp("x/c", "10.10.0.1".parse::<std::net::IpAddr>().unwrap(), 80);
    assert!(!lab.topo.probe(&denied).unwrap(), "x/a is isolated");
    let node_a = lab.nodes.iter().position(|n| n.name == "node-1").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let (drops, metrics) = loop {
        let (_, drops) = ctls[node_a].get("/drops").expect("/drops");
        let (_, metrics) = ctls[node_a].get("/metrics").expect("/metrics");
        let all_counted = names
            .iter()
            .all(|n| metrics.contains(&format!("policy=\"x/{n}\"")));
        if all_counted {
            break (drops, metrics);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every policy counted: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let drops: netfence_analyzer::drops::DropsDocument = serde_json::from_str(&drops).unwrap();
    for n in &names {
        let counted = drops
            .policy_drops
            .iter()
            .find(|d| d.policy == format!("x/{n}") && d.direction == "ingress");
        assert!(
            counted.is_some_and(|d| d.packets > 0),
            "x/{n} ingress in /drops: {drops:?}"
        );
    }
    // Every policy label is a whole policy name.
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("netfence_policy_drops{"))
    {
        let label = line
            .split("policy=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        assert!(
            names.iter().any(|n| label == format!("x/{n}")) || !label.starts_with("x/allow"),
            "a fragment of a name as a label: {line}"
        );
        assert!(!label.is_empty() && label.contains('/'), "{line}");
    }
}

/// An Admin tier Deny that the controller reads from its manifests cuts the connection
/// it revokes, and its drops are named and counted after the ClusterNetworkPolicy, its
/// tier and rule; a Baseline Deny applies only where no NetworkPolicy isolates.
#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn tiered_denies_cut_connections_and_are_named_and_counted() {
    let dir = Dir::new("tiers");
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    dir.write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &PORTS, &[]);
    let ctls = start_all(&lab, &dir, &["--nflog-group", "7"], &[]);
    let opts = netfence_nft::RenderOptions {
        counters: true,
        log_group: Some(7),
        unprogrammed_guard: Vec::new(),
    };
    common::wait_kernel(&lab, &model(&dir.text()), &opts, "initial");
    let mut conn = echo_pair(&lab, "x/a", "10.10.0.1:9999", "x/b");
    assert!(echoes(&mut conn), "the connection works before the policy");

    dir.write(
        "10-tiers.yaml",
        r#"apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard-a}
spec:
  tier: Admin
  priority: 10
  subject:
    pods:
      namespaceSelector: {matchLabels: {ns: x}}
      podSelector: {matchLabels: {pod: a}}
  ingress:
  - name: no-one-from-x
    action: Deny
    from: [{namespaces: {matchLabels: {ns: x}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline-z}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {matchLabels: {ns: z}}}
  ingress:
  - name: nothing-from-y
    action: Deny
    from: [{namespaces: {matchLabels: {ns: "y"}}}]
"#,
    );
    let m = model(&dir.text());
    common::wait_kernel(&lab, &m, &opts, "tiers added");
    lab.assert_agrees(&m, "tiers added");
    let node_a = lab.nodes.iter().position(|n| n.name == "node-1").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ctls[node_a].metric("netfence_connections_cut_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the connection the Admin Deny revokes was not cut"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!echoes(&mut conn), "a revoked connection must stop working");

    let denied =
        netfence_netns::Probe::tcp("x/c", "10.10.0.1".parse::<std::net::IpAddr>().unwrap(), 80);
    assert!(!lab.topo.probe(&denied).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, drops) = ctls[node_a].get("/drops").expect("/drops");
        let (_, metrics) = ctls[node_a].get("/metrics").expect("/metrics");
        let named = drops.contains(
            "dropped x/c -> x/a 80/TCP: Admin tier cnp/guard-a rule \\\"no-one-from-x\\\" denies ingress of x/a with x/c",
        );
        let counted = metrics.lines().any(|l| {
            l.starts_with("netfence_tier_rule_drops{")
                && l.contains("policy=\"cnp/guard-a\"")
                && l.contains("rule=\"no-one-from-x\"")
                && l.contains("tier=\"Admin\"")
                && !l.ends_with(" 0")
        });
        if named && counted {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no named and counted tier drop: {drops}\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
