//! Shared by the controller's integration tests: the kernel lab (`netfence-lab`, shared with the renderer's tests),
//! the real controller binary as a child process, and waiting for the kernel.

#![allow(dead_code)]

pub use netfence_lab as lab;

use lab::Lab;
use netfence_model::Model;
use netfence_nft::Summary;
use netfence_nft::{render_ruleset, RenderOptions};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

pub fn model(text: &str) -> Model {
    netfence_model::compile_text("t.yaml", text, "default").unwrap_or_else(|e| panic!("{e:?}"))
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The controller binary, running for one node of a lab; killed on drop.
pub struct Controller {
    pub child: Child,
    pub port: u16,
    pub node: String,
}

impl Controller {
    /// Starts the controller for `node` of `lab` with extra arguments (the source:
    /// `--manifests DIR`, or nothing for an API server through KUBECONFIG in `env`).
    pub fn start(lab: &Lab, node: &str, args: &[&str], env: &[(&str, &str)]) -> Controller {
        let port = free_port();
        let n = lab.nodes.iter().find(|n| n.name == node).expect("node");
        let view = lab.node_view(n);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_netfence-controller"));
        cmd.args([
            "--node-name",
            node,
            "--netns",
            lab.topo.netns(node).unwrap(),
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
            "--resync-seconds",
            "1",
        ]);
        if !args.contains(&"--nflog-group") {
            cmd.args(["--nflog-group", "0"]);
        }
        for a in &view.addrs {
            cmd.args(["--node-addr", &a.to_string()]);
        }
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env("RUST_LOG", "info");
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
        let child = cmd.spawn().expect("starting netfence-controller");
        Controller {
            child,
            port,
            node: node.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let code = out.split_whitespace().nth(1)?.parse().ok()?;
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
        Some((code, body))
    }

    /// A counter or gauge from /metrics (sum over label sets).
    pub fn metric(&self, name: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0.0;
        };
        body.lines()
            .filter(|l| {
                l.starts_with(name)
                    && (l[name.len()..].starts_with(' ') || l[name.len()..].starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn stop(&mut self) {
        terminate(&mut self.child);
    }
}

/// SIGTERM, then wait (the controller leaves its rules in place).
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Controller {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Waits until every node's kernel holds the ruleset `model` renders for it, then
/// forgets tracked connections (probes must be new connections).
pub fn wait_enforced(lab: &Lab, model: &Model, what: &str) {
    wait_kernel(lab, model, &RenderOptions::default(), what);
    for n in &lab.nodes {
        lab.forget_connections(&n.name);
    }
}

/// Waits until every node's kernel holds what `model` renders with `opts`.
pub fn wait_kernel(lab: &Lab, model: &Model, opts: &RenderOptions, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in &lab.nodes {
        let expected =
            Summary::of_ruleset(&render_ruleset(model, &lab.node_view(n), opts).expect("render"));
        loop {
            let reading = lab.nft(&n.name).read_table().ok().flatten();
            if let Some(l) = &reading {
                if Summary::of_reading(l) == expected {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{what}: node {} did not reach the expected ruleset in time",
                n.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The fake's objects as one manifest (what the controller must be enforcing).
pub fn fake_text(fake: &netfence_apifake::ApiFake) -> String {
    let mut out = Vec::new();
    for (api, kind) in [
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("v1", "Node"),
        ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"),
        ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"),
        (
            "policy.networking.k8s.io/v1alpha1",
            "BaselineAdminNetworkPolicy",
        ),
    ] {
        for mut o in fake.objects(api, kind) {
            o["apiVersion"] = serde_json::Value::String(api.into());
            o["kind"] = serde_json::Value::String(kind.into());
            out.push(o);
        }
    }
    // One JSON document: kubectl (and so the model) reads a stream that starts with `{`
    // as JSON, where `---` between objects is an error.
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": out}).to_string()
}

/// A manifest directory for standalone mode, removed when dropped.
pub struct Dir(std::path::PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("netfence-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    pub fn write(&self, name: &str, text: &str) {
        // Write then rename, as config management does: readers never see half a file.
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.0.join(name)).unwrap();
    }
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).unwrap();
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
    /// Everything in the directory, as the controller sees it.
    pub fn text(&self) -> String {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
