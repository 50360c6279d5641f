//! The conntrack table over ctnetlink, against the real kernel: the dump reads what
//! `conntrack -L` shows (the program is used here only, as the reference), batched
//! deletes remove entries, and in the lab a revocation of thousands of flows never holds
//! the next policy change back. Needs root; never skipped.

mod common;

use common::lab::Lab;
use common::{model, testdata, Controller};
use netfence_controller::conntrack::netlink::{CtSocket, Entry};
use netfence_controller::conntrack::Connection;
use netfence_model::Protocol;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// A network namespace of its own, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("nfct-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        assert!(Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap()
            .success());
        Netns(name)
    }
    fn conntrack(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "conntrack"])
            .args(args)
            .output()
            .expect("conntrack");
        assert!(
            out.status.success(),
            "conntrack {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `conntrack -L` lines as entries (tcp, udp, sctp; others skipped).
fn parse_listing(listing: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let protocol = match line.split_whitespace().next() {
            Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some("sctp") => Protocol::Sctp,
            _ => continue,
        };
        let (mut src, mut dst, mut sport, mut dport, mut zone) =
            (vec![], vec![], vec![], vec![], 0);
        for (k, v) in line.split_whitespace().filter_map(|w| w.split_once('=')) {
            match k {
                "src" => src.push(v.parse::<IpAddr>().unwrap()),
                "dst" => dst.push(v.parse::<IpAddr>().unwrap()),
                "sport" => sport.push(v.parse::<u16>().unwrap()),
                "dport" => dport.push(v.parse::<u16>().unwrap()),
                "zone" => zone = v.parse().unwrap(),
                _ => {}
            }
        }
        out.push(Entry {
            conn: Connection {
                protocol,
                src: src[0],
                dst: dst[0],
                sport: sport[0],
                dport: dport[0],
                reply_src: src[1],
                reply_sport: sport[1],
            },
            zone,
        });
    }
    out
}

fn dump(netns: &str) -> Vec<Entry> {
    let mut sock = CtSocket::open_in(Some(netns)).expect("ctnetlink socket");
    let mut all = Vec::new();
    sock.dump(|e| all.push(e)).expect("dump");
    all
}

fn key(e: &Entry) -> String {
    format!("{e:?}")
}

fn sorted(mut v: Vec<Entry>) -> Vec<Entry> {
    v.sort_by_key(key);
    v
}

fn flows(n: usize, src: &str, dst: &str, dport: u16) -> Vec<Entry> {
    (0..n)
        .map(|i| Entry {
            conn: Connection {
                protocol: Protocol::Tcp,
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                sport: 10_000 + i as u16,
                dport,
                reply_src: dst.parse().unwrap(),
                reply_sport: dport,
            },
            zone: 0,
        })
        .collect()
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn the_dump_reads_what_conntrack_lists() {
    let ns = Netns::new("dump");
    // Made by the reference program: tcp, udp in a zone, v6 with DNAT-like reply, sctp
    // and icmp (which the dump skips, like the listing parser).
    ns.conntrack(&[
        "-I",
        "-p",
        "tcp",
        "-s",
        "10.1.0.1",
        "-d",
        "10.96.0.10",
        "--sport",
        "40000",
        "--dport",
        "80",
        "-r",
        "10.1.0.2",
        "-q",
        "10.1.0.1",
        "--reply-port-src",
        "8080",
        "--reply-port-dst",
        "40000",
        "--state",
        "ESTABLISHED",
        "-t",
        "100",
        "-u",
        "SEEN_REPLY,ASSURED",
    ]);
    ns.conntrack(&[
        "-I", "-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "5000", "--dport", "53",
        "-t", "100", "-w", "3",
    ]);
    ns.conntrack(&[
        "-I",
        "-p",
        "sctp",
        "-s",
        "10.1.0.3",
        "-d",
        "10.1.0.4",
        "--sport",
        "7",
        "--dport",
        "81",
        "--state",
        "ESTABLISHED",
        "--orig-vtag",
        "1",
        "--reply-vtag",
        "2",
        "-t",
        "100",
    ]);
    ns.conntrack(&[
        "-I",
        "-p",
        "icmp",
        "-s",
        "10.1.0.1",
        "-d",
        "10.1.0.2",
        "--icmp-type",
        "8",
        "--icmp-code",
        "0",
        "--icmp-id",
        "1",
        "-t",
        "100",
    ]);
    // And many made over ctnetlink, enough for a dump of several datagrams.
    let mut sock = CtSocket::open_in(Some(&ns.0)).unwrap();
    let made = flows(1500, "10.2.0.1", "10.2.0.2", 9999);
    for chunk in made.chunks(256) {
        assert_eq!(
            sock.insert(chunk, Duration::from_secs(300)).unwrap(),
            chunk.len()
        );
    }
    let mut listed = parse_listing(&ns.conntrack(&["-L", "-f", "ipv4"]));
    listed.extend(parse_listing(&ns.conntrack(&["-L", "-f", "ipv6"])));
    assert_eq!(listed.len(), 1503, "the reference sees every entry");
    let dumped = dump(&ns.0);
    assert_eq!(sorted(dumped.clone()), sorted(listed));
    let nat = dumped
        .iter()
        .find(|e| e.conn.dport == 80)
        .expect("the DNATed entry");
    assert_eq!(nat.conn.reply_src.to_string(), "10.1.0.2");
    assert_eq!(nat.conn.reply_sport, 8080);
    assert!(dumped.iter().any(|e| e.zone == 3 && e.conn.src.is_ipv6()));
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn batched_deletes_remove_exactly_the_named_entries() {
    let ns = Netns::new("delete");
    let mut sock = CtSocket::open_in(Some(&ns.0)).unwrap();
    let doomed = flows(700, "10.3.0.1", "10.3.0.2", 80);
    let kept = flows(50, "10.3.0.1", "10.3.0.2", 81);
    sock.insert(&doomed, Duration::from_secs(300)).unwrap();
    sock.insert(&kept, Duration::from_secs(300)).unwrap();
    let mut zoned = flows(1, "10.3.0.9", "10.3.0.2", 80);
    zoned[0].zone = 5;
    sock.insert(&zoned, Duration::from_secs(300)).unwrap();
    let mut deleted = 0;
    for chunk in doomed.chunks(256) {
        deleted += sock.delete(chunk).unwrap();
    }
    deleted += sock.delete(&zoned).unwrap();
    assert_eq!(deleted, 701);
    // Gone already: not an error, not counted.
    assert_eq!(sock.delete(&doomed[..10]).unwrap(), 0);
    assert_eq!(sorted(parse_listing(&ns.conntrack(&["-L"]))), sorted(kept));
}

fn scenario(name: &str) -> String {
    std::fs::read_to_string(testdata().join(format!("e2e/scenarios/{name}.yaml"))).unwrap()
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_long_revocation_never_holds_the_next_change_back() {
    const FLOWS: usize = 2000;
    let dir = std::env::temp_dir().join(format!("netfence-revoke-many-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    };
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    write("00-model.yaml", &base);
    let lab = Lab::build(&model(&base), &[(Protocol::Tcp, 80)], &[]);
    let d = dir.display().to_string();
    // 200 deletions a second: cutting 2,000 flows takes about 10 s.
    let args = [
        "--manifests",
        d.as_str(),
        "--poll-ms",
        "50",
        "--conntrack-delete-rate",
        "200",
    ];
    let ctls: Vec<Controller> = lab
        .nodes
        .iter()
        .map(|n| Controller::start(&lab, &n.name, &args, &[]))
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
    common::wait_kernel(&lab, &model(&text(&[])), &opts, "initial");
    // x/c (node-2) -> x/a:9999 (node-1): tracked in node-1's namespace.
    let node_ns = lab.topo.netns("node-1").unwrap().to_string();
    let mut sock = CtSocket::open_in(Some(&node_ns)).unwrap();
    let made = flows(FLOWS, "10.10.0.3", "10.10.0.1", 9999);
    for chunk in made.chunks(256) {
        sock.insert(chunk, Duration::from_secs(600)).unwrap();
    }
    let ours = |e: &Entry| e.conn.dst.to_string() == "10.10.0.1" && e.conn.dport == 9999;
    assert_eq!(dump(&node_ns).iter().filter(|e| ours(e)).count(), FLOWS);

    write("10-deny.yaml", &scenario("default-deny-ingress"));
    common::wait_kernel(
        &lab,
        &model(&text(&["default-deny-ingress"])),
        &opts,
        "deny",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while ctl.metric("netfence_connections_cut_total") < 1.0 {
        assert!(Instant::now() < deadline, "the revocation did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next change reaches the kernel while the revocation is still under way.
    write("20-egress.yaml", &scenario("default-deny-egress"));
    let m2 = model(&text(&["default-deny-ingress", "default-deny-egress"]));
    common::wait_kernel(&lab, &m2, &opts, "second change");
    let cut = ctl.metric("netfence_connections_cut_total");
    assert!(
        cut < FLOWS as f64,
        "the second change waited for the revocation ({cut} of {FLOWS} flows cut first)"
    );
    // The newer job takes over and finishes the work: every flow is cut, once.
    let deadline = Instant::now() + Duration::from_secs(40);
    while dump(&node_ns).iter().any(ours) {
        assert!(Instant::now() < deadline, "revoked flows left in the table");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(ctl.metric("netfence_connections_cut_total"), FLOWS as f64);
    let _ = std::fs::remove_dir_all(&dir);
}
