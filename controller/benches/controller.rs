//! `cargo bench -p netfence-controller --bench controller` (root): the real controller
//! binary against the API fake holding a synthetic cluster (default 10,000 pods, 1,000
//! policies, a node per 100 pods), enforcing node-0 in a network namespace. Reports the
//! cold start to a synced, enforced state, CPU and RSS at steady state, and the time
//! from a pod event at the API server to the kernel being updated (p50/p99).
//! Options: `--pods N` `--events N`. Asserts nothing about time.
//!
//! `--policies N` measures one namespace's policy count instead (issue 9, point 4):
//! 50 pods (`--pods`) in one namespace on node-0 with N policies; reports the time from
//! start to the first enforcement (ready: synced and applied) and the controller's
//! peak RSS, with the `nft` runs' peak beside it.

use netfence_apifake::ApiFake;
use netfence_netns::{NodeSpec, Topology, TopologySpec};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, out.split_once("\r\n\r\n")?.1.to_string()))
}

fn metric(port: u16, name: &str) -> f64 {
    get(port, "/metrics").map_or(0.0, |(_, b)| {
        b.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    })
}

fn proc_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the comm field.
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// A size field of /proc/PID/status (VmRSS, VmHWM: the peak), in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Pods of other nodes whose address node-0's ruleset holds (so that readdressing one
/// changes node-0's kernel), from the same objects the controller watches.
fn remote_pods_in_sets(text: &str, objects: &[Value]) -> Vec<Value> {
    use netfence_model::Object;
    let parsed = netfence_model::parse_manifest("synth.yaml", text, "default");
    let watched: Vec<Object> = parsed
        .objects
        .into_iter()
        .filter(|o| matches!(o, Object::Pod(_) | Object::Namespace(_) | Object::Policy(_)))
        .collect();
    let model = netfence_model::Model::compile(netfence_model::Cluster::build(watched));
    let node = netfence_nft::NodeView {
        name: Some("node-0".into()),
        addrs: vec![],
    };
    let rs = netfence_nft::render_ruleset(&model, &node, &Default::default()).expect("render");
    let held: std::collections::HashSet<String> = rs
        .sets
        .values()
        .flat_map(|s| s.elements.iter())
        .filter_map(|e| match e {
            netfence_nft::ruleset::Element::Addr(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    let remote: Vec<Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Pod"
                && o["spec"]["nodeName"] != "node-0"
                && o["status"]["podIP"]
                    .as_str()
                    .is_some_and(|ip| held.contains(ip))
        })
        .cloned()
        .collect();
    assert!(
        !remote.is_empty(),
        "no pod of another node in node-0's sets"
    );
    remote
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let arg = |flag: &str, default: usize| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    if argv.iter().any(|a| a == "--policies") {
        return policy_scale(arg("--policies", 10_000), arg("--pods", 50));
    }
    let pods = arg("--pods", 10_000);
    let events = arg("--events", 40);
    let mut cfg = netfence_synth::SynthConfig::bench(pods, pods / 10, 1);
    cfg.nodes = pods / 100;
    let text = netfence_synth::generate(&cfg);
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect();
    let local: Vec<Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Pod"
                && o["spec"]["nodeName"] == "node-0"
                && o["status"]["podIP"].is_string()
        })
        .cloned()
        .collect();
    let remote = remote_pods_in_sets(&text, &objects);
    let fake = ApiFake::start(objects);
    let started = Instant::now();
    let Running {
        topo: _topo,
        mut child,
        port,
        kubeconfig,
    } = start_controller(&fake, 91, &["--nflog-group", "0"]);
    while get(port, "/readyz").map(|r| r.0) != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "controller never became ready"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let cold = started.elapsed();
    let pid = child.id();

    // Steady state: nothing changes for 10 s (the drift check runs every 30 s).
    std::thread::sleep(Duration::from_secs(2));
    let t0 = proc_cpu_ticks(pid);
    let w = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let cpu = (proc_cpu_ticks(pid) - t0) as f64 / 100.0 / w.elapsed().as_secs_f64() * 100.0;
    let rss_idle = rss_mb(pid);

    // Pod events, four kinds in turn, each changing node-0's kernel: a local pod gets a
    // new address; a pod of another node that node-0's sets hold gets a new address; a
    // new local pod appears; that pod is deleted. Time until the kernel has it.
    let kinds = [
        "local readdressed",
        "remote readdressed",
        "local created",
        "local deleted",
    ];
    let mut by_kind: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    let mut samples = Vec::new();
    for i in 0..events {
        let kind = i % kinds.len();
        let round = i / kinds.len();
        let addr = |net: u32| format!("10.{net}.{}.{}", round / 250, round % 250 + 1);
        let before = metric(port, "netfence_applies_total");
        let t = Instant::now();
        match kind {
            0 => {
                let mut p = local[round % local.len()].clone();
                p["status"]["podIP"] = Value::String(addr(200));
                p["status"].as_object_mut().unwrap().remove("podIPs");
                fake.apply(p);
            }
            1 => {
                let mut p = remote[round % remote.len()].clone();
                p["status"]["podIP"] = Value::String(addr(201));
                p["status"].as_object_mut().unwrap().remove("podIPs");
                fake.apply(p);
            }
            2 => {
                let mut p = local[round % local.len()].clone();
                p["metadata"]["name"] = Value::String(format!("bench-new-{round}"));
                p["status"]["podIP"] = Value::String(addr(202));
                p["status"].as_object_mut().unwrap().remove("podIPs");
                fake.apply(p);
            }
            _ => {
                let p = &local[round % local.len()];
                let ns = p["metadata"]["namespace"].as_str().unwrap();
                fake.delete("v1", "Pod", ns, &format!("bench-new-{round}"))
                    .expect("the created pod");
            }
        }
        while metric(port, "netfence_applies_total") <= before {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no apply after a {} event",
                kinds[kind]
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        samples.push(t.elapsed());
        by_kind[kind].push(t.elapsed());
        std::thread::sleep(Duration::from_millis(150));
    }
    samples.sort();
    let pct = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];

    // Policy events, for comparison: a deny-all policy appears in a local pod's
    // namespace and goes again. The model is compiled anew; the kernel gets the chains
    // and sets that changed.
    let ns = local[0]["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_string();
    let mut policy_times = Vec::new();
    for round in 0..3 {
        for add in [true, false] {
            let before = metric(port, "netfence_applies_total");
            let t = Instant::now();
            if add {
                fake.apply(serde_json::json!({
                    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": format!("bench-deny-{round}"), "namespace": ns},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}));
            } else {
                fake.delete(
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    &ns,
                    &format!("bench-deny-{round}"),
                )
                .expect("the bench policy");
            }
            while metric(port, "netfence_applies_total") <= before {
                assert!(
                    t.elapsed() < Duration::from_secs(60),
                    "no apply after a policy event"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            policy_times.push(t.elapsed());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    policy_times.sort();
    let rss_busy = rss_mb(pid);
    let reconcile_sum = metric(port, "netfence_reconcile_duration_seconds_sum");
    let reconcile_count = metric(port, "netfence_reconcile_duration_seconds_count");
    let patches = metric(port, "netfence_model_updates_total{kind=\"patch\"}");
    let compiles = metric(port, "netfence_model_updates_total{kind=\"compile\"}");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_file(&kubeconfig);
    println!(
        "netfence-controller bench: {pods} pods, {} policies, {} local pods on node-0, {} cores",
        pods / 10,
        local.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  cold start to synced and enforced:   {:.0} ms",
        cold.as_secs_f64() * 1000.0
    );
    println!("  steady state CPU:                    {cpu:.2} % of one core");
    println!("  RSS at steady state / after events:  {rss_idle:.0} MB / {rss_busy:.0} MB");
    println!(
        "  pod event -> kernel ({events} events):   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        samples.last().unwrap().as_secs_f64() * 1000.0
    );
    for (k, mut v) in kinds.iter().zip(by_kind) {
        v.sort();
        if !v.is_empty() {
            println!(
                "    {k:<20} p50 {:.1} ms, max {:.1} ms ({} events)",
                v[v.len() / 2].as_secs_f64() * 1000.0,
                v[v.len() - 1].as_secs_f64() * 1000.0,
                v.len()
            );
        }
    }
    println!(
        "  policy event -> kernel ({} events):  p50 {:.0} ms, max {:.0} ms (compile, render, chain delta)",
        policy_times.len(),
        policy_times[policy_times.len() / 2].as_secs_f64() * 1000.0,
        policy_times[policy_times.len() - 1].as_secs_f64() * 1000.0
    );
    println!(
        "  model updates (patch / compile):    {:.0} / {:.0}",
        patches, compiles
    );
    println!(
        "  mean reconcile (compile+render+apply): {:.1} ms",
        reconcile_sum / reconcile_count.max(1.0) * 1000.0
    );
}

/// The policy-count bench: start to first enforcement and peak memory.
fn policy_scale(policies: usize, pods: usize) {
    let mut cfg = netfence_synth::SynthConfig::bench(pods, policies, 1);
    cfg.namespaces = 1;
    cfg.nodes = 1;
    cfg.templates = 0;
    let text = netfence_synth::generate(&cfg);
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect();
    let fake = ApiFake::start(objects);
    let started = Instant::now();
    let Running {
        topo: _topo,
        mut child,
        port,
        kubeconfig,
    } = start_controller(&fake, 92, &[]);
    let pid = child.id();
    let mut nft_peak = 0.0f64;
    while get(port, "/readyz").map(|r| r.0) != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "controller never became ready"
        );
        // nft runs are children of the controller (through `ip netns exec`): sample them.
        for child in children_of(pid) {
            nft_peak = nft_peak.max(status_mb(child, "VmHWM:"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let first = started.elapsed();
    let peak = status_mb(pid, "VmHWM:");
    let nft_peak_first = nft_peak;
    // On past the first drift check (every 30 s by default: a listing of the table).
    let steady = Instant::now();
    while steady.elapsed() < Duration::from_secs(40) {
        for child in children_of(pid) {
            nft_peak = nft_peak.max(status_mb(child, "VmHWM:"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let peak_steady = status_mb(pid, "VmHWM:");
    let stats: Vec<(String, f64)> = ["chains", "rules", "sets", "elements"]
        .iter()
        .map(|k| {
            (
                k.to_string(),
                metric(port, &format!("netfence_ruleset_{k}")),
            )
        })
        .collect();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_file(&kubeconfig);
    println!(
        "netfence-controller policy bench: {policies} policies, {pods} pods in one namespace on node-0, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  start to first enforcement (ready):  {:.2} s",
        first.as_secs_f64()
    );
    println!("  controller peak RSS (VmHWM), first enforcement / +40 s (a drift check): {peak:.0} MB / {peak_steady:.0} MB");
    println!("  nft peak RSS (sampled every 5 ms), first enforcement / +40 s:         {nft_peak_first:.0} MB / {nft_peak:.0} MB");
    println!(
        "  ruleset: {}",
        stats
            .iter()
            .map(|(k, v)| format!("{v:.0} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Processes whose parent is `pid`, and theirs.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        let path = format!("/proc/{p}/task/{p}/children");
        for c in std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
        {
            out.push(c);
            frontier.push(c);
        }
    }
    out
}

/// The API fake's objects, node-0's network namespace and the real controller binary
/// enforcing it, started now; with the metrics port and the kubeconfig to remove.
struct Running {
    topo: Topology,
    child: std::process::Child,
    port: u16,
    kubeconfig: std::path::PathBuf,
}

fn start_controller(fake: &ApiFake, node_ip: u8, extra: &[&str]) -> Running {
    let topo = Topology::build(&TopologySpec {
        nodes: vec![NodeSpec::new(
            "node-0",
            Ipv4Addr::new(192, 168, node_ip, 1),
            Ipv6Addr::new(0xfd00, u16::from(node_ip), 0, 0, 0, 0, 0, 1),
        )],
    })
    .expect("node namespace");
    let kubeconfig =
        std::env::temp_dir().join(format!("netfence-bench-{}.kubeconfig", std::process::id()));
    std::fs::write(&kubeconfig, fake.kubeconfig("default")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--node-name",
        "node-0",
        "--netns",
        topo.netns("node-0").unwrap(),
        "--metrics-addr",
        &metrics,
    ];
    args.extend_from_slice(extra);
    let child = Command::new(env!("CARGO_BIN_EXE_netfence-controller"))
        .args(&args)
        .env("KUBECONFIG", &kubeconfig)
        // NETFENCE_BENCH_LOG=debug shows the controller's log (each reconcile's phases).
        .env(
            "RUST_LOG",
            std::env::var("NETFENCE_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(if std::env::var_os("NETFENCE_BENCH_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("controller");
    Running {
        topo,
        child,
        port,
        kubeconfig,
    }
}
