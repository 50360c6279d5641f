//! The real controller binary's HTTP endpoint under hostile clients, over real sockets:
//! oversized request heads, idle connections beyond the cap under a small file
//! descriptor limit, /drops from a non-loopback peer; and health that follows the
//! reconcile loop (failing applies, a stalled loop). Needs root; never skipped.

mod common;

use common::lab::Lab;
use common::Dir;
use common::{model, Controller};
use netfence_model::Protocol;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PORTS: [(Protocol, u16); 1] = [(Protocol::Tcp, 80)];

/// Two tenants with a pod each on node-1.
fn base() -> String {
    let pod = |ns: &str, ip: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{tenant: {ns}}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}\nspec: {{nodeName: node-1}}\nstatus: {{hostIP: 192.168.50.1, hostIPs: [{{ip: 192.168.50.1}}], podIPs: [{{ip: {ip}}}]}}\n")
    };
    format!(
        "{}---\n{}",
        pod("tenant-a", "10.10.0.1"),
        pod("tenant-b", "10.10.0.2")
    )
}

fn deny_ingress(namespace: &str) -> String {
    format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: {namespace}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n")
}

/// The controller for node-1 of `lab`, enforcing `dir`.
fn start(lab: &Lab, dir: &Dir, extra: &[&str], env: &[(&str, &str)]) -> Controller {
    let d = dir.path().display().to_string();
    let mut args = vec!["--manifests", d.as_str(), "--poll-ms", "50"];
    args.extend_from_slice(extra);
    Controller::start(lab, "node-1", &args, env)
}

/// Polls `f` until it returns Some, or panics with `what` at the deadline.
fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_status(c: &Controller, path: &str, code: u16, within: Duration) -> String {
    wait_for(&format!("{path} answering {code}"), within, || {
        c.get(path).filter(|(c, _)| *c == code).map(|(_, b)| b)
    })
}

/// A process's peak resident set (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): utime is the 12th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Sends `head` in one write and reads the answer's status code (None: no answer).
fn raw_status(port: u16, head: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(head).ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn oversized_request_heads_are_refused_and_memory_stays_bounded() {
    let dir = Dir::new("huge");
    dir.write("00-model.yaml", &base());
    let lab = Lab::build(&model(&base()), &PORTS, &[]);
    let ctl = start(&lab, &dir, &[], &[]);
    wait_status(&ctl, "/readyz", 200, Duration::from_secs(30));
    let pid = ctl.child.id();
    let before = peak_rss(pid);

    // A request line that never ends: the server must stop reading long before 128 MiB.
    const TOTAL: usize = 128 << 20;
    let mut s = TcpStream::connect(("127.0.0.1", ctl.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0;
    while sent < TOTAL {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let grown = peak_rss(pid).saturating_sub(before);
    eprintln!(
        "endless request line: {} MiB accepted, peak RSS {} -> +{} KiB",
        sent >> 20,
        before >> 10,
        grown >> 10
    );
    assert!(
        sent < TOTAL / 2,
        "the server kept reading an endless request line ({} MiB sent)",
        sent >> 20
    );
    assert!(
        grown < 32 << 20,
        "peak RSS grew by {} MiB for one request line",
        grown >> 20
    );
    drop(s);

    // A head just over the limit, and too many headers: 431, not an answer.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(20 * 1024)
    );
    assert_eq!(raw_status(ctl.port, big.as_bytes()), Some(431));
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..64 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(raw_status(ctl.port, many.as_bytes()), Some(431));
    // Still serving.
    assert_eq!(ctl.get("/healthz").map(|r| r.0), Some(200));
}

/// Whether the server closed this connection (EOF or reset), without blocking.
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

fn idle_connections(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect()
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn idle_connections_neither_lock_out_probes_nor_stay_open() {
    let dir = Dir::new("idle");
    dir.write("00-model.yaml", &base());
    let lab = Lab::build(&model(&base()), &PORTS, &[]);
    let ctl = start(&lab, &dir, &[], &[]);
    let pid = ctl.child.id();
    // The DaemonSet's situation of the report: a small descriptor limit.
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=256:256"])
        .status()
        .unwrap();
    assert!(limited.success());
    wait_status(&ctl, "/readyz", 200, Duration::from_secs(30));

    // More idle connections than the cap (64 by default) and than descriptors.
    let mut idle = idle_connections(ctl.port, 372);
    let body = wait_status(&ctl, "/healthz", 200, Duration::from_secs(20));
    assert!(body.starts_with("ok"), "{body}");
    // Not spinning on accept errors: well under half a core over 3 s.
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(3));
    let used = (cpu_ticks(pid) - c0) as f64 / 100.0;
    eprintln!("372 idle connections under 256 fds: {used:.2} s CPU in 3 s");
    assert!(
        used < t0.elapsed().as_secs_f64() / 2.0,
        "the controller used {used:.1} s of CPU in 3 s with idle connections open"
    );
    // Every idle connection is closed: evicted, or at the timeout (5 s by default).
    wait_for(
        "the idle connections to be closed",
        Duration::from_secs(60),
        || {
            idle.retain_mut(|s| !closed(s));
            idle.is_empty().then_some(())
        },
    );

    // Fewer than the cap: nothing to evict, the timeout closes them.
    let mut idle = idle_connections(ctl.port, 8);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        idle.iter_mut().all(|s| !closed(s)),
        "idle connections under the cap are served until the timeout"
    );
    wait_for(
        "idle connections under the cap to time out",
        Duration::from_secs(60),
        || {
            idle.retain_mut(|s| !closed(s));
            idle.is_empty().then_some(())
        },
    );
    assert_eq!(ctl.get("/readyz").map(|r| r.0), Some(200));
}

/// GET `path` from inside network namespace `netns`: (status, body).
fn get_in(netns: &str, to: SocketAddr, path: &str) -> Option<(u16, String)> {
    let w = netfence_netns::Worker::start(netns).unwrap();
    let path = path.to_string();
    w.run(move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let code = out.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, out.split_once("\r\n\r\n")?.1.to_string()))
    })
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn drops_are_answered_to_loopback_peers_only() {
    let dir = Dir::new("drops");
    dir.write("00-model.yaml", &base());
    let lab = Lab::build(&model(&base()), &PORTS, &[]);
    let node = lab.nodes.iter().find(|n| n.name == "node-1").unwrap();
    let node_ns = lab.topo.netns("node-1").unwrap().to_string();
    let port = common::free_port();
    // On the node's network, listening on every address, as a hostNetwork pod does.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &node_ns])
        .arg(env!("CARGO_BIN_EXE_netfence-controller"))
        .args(["--node-name", "node-1", "--manifests"])
        .arg(dir.path())
        .args(["--poll-ms", "50", "--nflog-group", "0"])
        .args(["--metrics-addr", &format!("0.0.0.0:{port}")]);
    for a in &lab.node_view(node).addrs {
        cmd.args(["--node-addr", &a.to_string()]);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let _ctl = Controller {
        child: cmd.spawn().unwrap(),
        port,
        node: "node-1".into(),
    };
    let local: SocketAddr = ([127, 0, 0, 1], port).into();
    let from_node = wait_for("/readyz on the node", Duration::from_secs(30), || {
        get_in(&node_ns, local, "/readyz").filter(|r| r.0 == 200)
    });
    assert!(from_node.1.starts_with("ready"), "{}", from_node.1);

    // Loopback: the drop report as before.
    let (code, body) = get_in(&node_ns, local, "/drops").expect("/drops from loopback");
    assert_eq!(code, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json.get("recent").is_some() && json.get("policy_drops").is_some());

    // A pod reaching the node's address: health yes, drop details no.
    let pod_ns = lab.topo.netns("tenant-a/web").unwrap().to_string();
    let node_addr: SocketAddr = (node.v4, port).into();
    let (code, _) = get_in(&pod_ns, node_addr, "/healthz").expect("/healthz from a pod");
    assert_eq!(code, 200);
    let (code, body) = get_in(&pod_ns, node_addr, "/drops").expect("/drops from a pod");
    assert_eq!(code, 403, "{body}");
    assert!(!body.contains("recent"), "{body}");
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn health_follows_failing_applies_and_a_stalled_loop() {
    let dir = Dir::new("health");
    dir.write("00-model.yaml", &base());
    let lab = Lab::build(&model(&base()), &PORTS, &[]);
    // An `nft` that hangs while `stall` exists and fails while `fail` exists.
    let bin = Dir::new("health-bin");
    let (stall, fail) = (bin.path().join("stall"), bin.path().join("fail"));
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft installed");
    bin.write(
        "nft",
        &format!(
            "#!/bin/sh\nwhile [ -e {} ]; do sleep 0.1; done\nif [ -e {} ]; then echo 'injected failure' >&2; exit 1; fi\nexec {real} \"$@\"\n",
            stall.display(),
            fail.display()
        ),
    );
    let nft = bin.path().join("nft").display().to_string();
    assert!(Command::new("chmod")
        .args(["+x", &nft])
        .status()
        .unwrap()
        .success());
    let ctl = start(
        &lab,
        &dir,
        &["--nft", &nft],
        &[("NETFENCE_LIVENESS_STALL_SECONDS", "15")],
    );
    wait_status(&ctl, "/readyz", 200, Duration::from_secs(30));
    assert_eq!(ctl.get("/healthz").map(|r| r.0), Some(200));

    // Every apply fails: not ready, saying why; the loop keeps going, so still live.
    std::fs::write(&fail, "").unwrap();
    dir.write("10-deny.yaml", &deny_ingress("tenant-a"));
    let body = wait_status(&ctl, "/readyz", 503, Duration::from_secs(30));
    assert!(
        body.starts_with("not ready: last apply failed") && body.contains("injected failure"),
        "{body}"
    );
    assert_eq!(ctl.get("/healthz").map(|r| r.0), Some(200));
    std::fs::remove_file(&fail).unwrap();
    let body = wait_status(&ctl, "/readyz", 200, Duration::from_secs(30));
    assert!(body.starts_with("ready"), "{body}");

    // The loop hangs in an apply: neither live nor ready once the bound has passed.
    std::fs::write(&stall, "").unwrap();
    dir.write("20-deny.yaml", &deny_ingress("tenant-b"));
    let body = wait_status(&ctl, "/healthz", 503, Duration::from_secs(90));
    assert!(
        body.starts_with("not live: the reconcile loop has not completed a cycle"),
        "{body}"
    );
    let (code, body) = ctl.get("/readyz").expect("/readyz");
    assert_eq!(code, 503, "{body}");
    std::fs::remove_file(&stall).unwrap();
    wait_status(&ctl, "/healthz", 200, Duration::from_secs(30));
    wait_status(&ctl, "/readyz", 200, Duration::from_secs(30));
}
