//! `cargo bench -p netfence-controller --bench revoke` (root): the real controller in a
//! two-node lab, `--flows N` (default 5,000) tracked connections x/c -> x/a:9999 made in
//! node-1's conntrack table over ctnetlink, then a policy that revokes them all, then
//! at once the next policy change. Reports the time from writing that next change to
//! it being in every node's kernel (the figure revocation must not hold back), and how
//! long the revocation itself took. Asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use common::lab::Lab;
use common::{model, testdata, wait_kernel, Controller};
use netfence_controller::conntrack::netlink::{CtSocket, Entry};
use netfence_controller::conntrack::Connection;
use netfence_model::Protocol;
use std::time::{Duration, Instant};

fn main() {
    let mut flows = 5000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--flows" {
            flows = args.next().and_then(|v| v.parse().ok()).expect("--flows N");
        }
    }
    let dir = std::env::temp_dir().join(format!("netfence-bench-revoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    };
    let scenario = |name: &str| {
        std::fs::read_to_string(testdata().join(format!("e2e/scenarios/{name}.yaml"))).unwrap()
    };
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &[(Protocol::Tcp, 80)], &[]);
    let d = dir.display().to_string();
    let ctl_args = ["--manifests", d.as_str(), "--poll-ms", "50"];
    let ctls: Vec<Controller> = lab
        .nodes
        .iter()
        .map(|n| Controller::start(&lab, &n.name, &ctl_args, &[]))
        .collect();
    let ctl = ctls.iter().find(|c| c.node == "node-1").expect("node-1");
    let opts = netfence_nft::RenderOptions::default();
    let text = |extra: &[&str]| {
        let mut t = base.clone();
        for s in extra {
            t.push_str("\n---\n");
            t.push_str(&scenario(s));
        }
        t
    };
    wait_kernel(&lab, &model(&text(&[])), &opts, "initial");

    let node_ns = lab.topo.netns("node-1").unwrap().to_string();
    let mut sock = CtSocket::open_in(Some(&node_ns)).expect("ctnetlink");
    let entries: Vec<Entry> = (0..flows)
        .map(|i| Entry {
            conn: Connection {
                protocol: Protocol::Tcp,
                src: "10.10.0.3".parse().unwrap(),
                dst: "10.10.0.1".parse().unwrap(),
                sport: 1024 + i as u16,
                dport: 9999,
                reply_src: "10.10.0.1".parse().unwrap(),
                reply_sport: 9999,
            },
            zone: 0,
        })
        .collect();
    let made: usize = entries
        .chunks(256)
        .map(|c| sock.insert(c, Duration::from_secs(600)).expect("insert"))
        .sum();
    println!("tracked connections made: {made}");

    let t_deny = Instant::now();
    write("10-deny.yaml", &scenario("default-deny-ingress"));
    wait_kernel(
        &lab,
        &model(&text(&["default-deny-ingress"])),
        &opts,
        "deny",
    );
    println!(
        "revoking policy in the kernel after {:.0} ms",
        t_deny.elapsed().as_secs_f64() * 1e3
    );
    let t_next = Instant::now();
    write("20-egress.yaml", &scenario("default-deny-egress"));
    wait_kernel(
        &lab,
        &model(&text(&["default-deny-ingress", "default-deny-egress"])),
        &opts,
        "next change",
    );
    let next = t_next.elapsed();
    let cut_then = ctl.metric("netfence_connections_cut_total");
    println!(
        "next policy change in the kernel after {:.0} ms ({cut_then} of {made} flows cut by then)",
        next.as_secs_f64() * 1e3
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while ctl.metric("netfence_connections_cut_total") < made as f64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "revocation: {} flows cut {:.0} ms after the revoking policy was written; jobs dropped: {}",
        ctl.metric("netfence_connections_cut_total"),
        t_deny.elapsed().as_secs_f64() * 1e3,
        ctl.metric("netfence_revocations_dropped_total")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
