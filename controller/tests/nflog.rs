//! Real-kernel tests of the NFLOG subscriber: a one-node, two-pod topology of network
//! namespaces, a ruleset in the node that logs to group 7 and drops, real TCP and UDP
//! probes, and the packets read back from a socket opened inside the node's namespace.
//! Needs root; fails, never skips, without it.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use netfence_controller::nflog::{Config, Family, LoggedPacket, NflogSocket};
use netfence_netns::{NodeSpec, PodSpec, Probe, Topology, TopologySpec, Worker};

const GROUP: u16 = 7;
const NODE: &str = "node-a";
const CLIENT: &str = "default/client";
const SERVER: &str = "default/server";

/// Logs and drops TCP to the server's port 81 (per family) and all UDP through the node.
fn rules(server4: IpAddr, server6: IpAddr) -> String {
    format!(
        "table inet t {{
            chain f {{
                type filter hook forward priority 0; policy accept;
                ip daddr {server4} tcp dport 81 log prefix \"nf test \" group {GROUP} drop
                ip6 daddr {server6} tcp dport 81 log prefix \"nf6 test \" group {GROUP} drop
                meta l4proto udp log prefix \"nf udp \" group {GROUP} drop
            }}
        }}"
    )
}

fn require_root() {
    // /proc/self belongs to the process's effective uid.
    let euid = std::fs::metadata("/proc/self")
        .expect("reading /proc/self")
        .uid();
    assert_eq!(
        euid, 0,
        "the NFLOG tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN for network namespaces \
         and netlink); effective uid is {euid}. Run them as root, e.g. `sudo -E cargo test \
         -p netfence-controller --test nflog`"
    );
}

fn topology() -> Topology {
    require_root();
    let pod = |name: &str, v4: &str, v6: &str| PodSpec {
        name: name.into(),
        v4: Some(v4.parse().unwrap()),
        v6: Some(v6.parse().unwrap()),
        tcp_ports: vec![80, 81],
        udp_ports: vec![53],
        sctp_ports: vec![],
    };
    let spec = TopologySpec {
        nodes: vec![NodeSpec {
            pods: vec![
                pod(CLIENT, "10.244.1.2", "fd00:10:244:1::2"),
                pod(SERVER, "10.244.1.3", "fd00:10:244:1::3"),
            ],
            ..NodeSpec::new(
                NODE,
                "172.18.0.2".parse().unwrap(),
                "fc00:f853:ccd:e793::2".parse().unwrap(),
            )
        }],
    };
    let mut topo = Topology::build(&spec).expect("building the namespace topology");
    // A dropped probe is not run a second time: each sends its packet once.
    topo.set_confirm_drops(false);
    topo.set_probe_timeout(Duration::from_millis(300));
    topo
}

/// A thread inside the namespace of a node or pod of `topo`.
fn worker(topo: &Topology, name: &str) -> Worker {
    Worker::start(topo.netns(name).expect("known name")).expect("entering the namespace")
}

fn open_in(w: &Worker, config: Config) -> std::io::Result<NflogSocket> {
    w.run(move || NflogSocket::open_with(GROUP, &config))
}

/// Reads until `done` holds for what was read, or `limit` passes.
fn collect(
    sock: &mut NflogSocket,
    limit: Duration,
    done: impl Fn(&[LoggedPacket]) -> bool,
) -> (Vec<LoggedPacket>, usize) {
    sock.set_timeout(Some(Duration::from_millis(100)))
        .expect("setting the receive timeout");
    let start = Instant::now();
    let mut all = Vec::new();
    let mut largest_batch = 0;
    while !done(&all) && start.elapsed() < limit {
        let batch = sock.recv().expect("reading the NFLOG socket");
        largest_batch = largest_batch.max(batch.len());
        all.extend(batch);
    }
    (all, largest_batch)
}

fn ifindex(topo: &Topology, iface: &str) -> u32 {
    // `ip netns exec` mounts the namespace's own /sys.
    topo.exec(NODE, &["cat", &format!("/sys/class/net/{iface}/ifindex")])
        .expect("reading an ifindex")
        .trim()
        .parse()
        .expect("an ifindex is a number")
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn logs_dropped_packets_of_the_node_namespace() {
    let topo = topology();
    let client4: IpAddr = topo.addr_v4(CLIENT).unwrap().into();
    let client6: IpAddr = topo.addr_v6(CLIENT).unwrap().into();
    let server4: IpAddr = topo.addr_v4(SERVER).unwrap().into();
    let server6: IpAddr = topo.addr_v6(SERVER).unwrap().into();
    let node = worker(&topo, NODE);
    // A large threshold and a long flush timeout: the kernel batches the packets of one
    // probe burst into one datagram, which exercises multi-message parsing.
    let config = Config {
        queue_threshold: 64,
        flush_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let mut sock = open_in(&node, config).expect("opening NFLOG group 7 in the node namespace");
    assert_eq!(sock.group(), GROUP);
    topo.nft(NODE, &rules(server4, server6), false)
        .expect("loading the logging ruleset");

    let probes = [
        Probe::tcp(CLIENT, server4, 81),
        Probe::tcp(CLIENT, server6, 81),
        Probe::udp(CLIENT, server4, 53),
        Probe::udp(CLIENT, server6, 53),
        Probe::tcp(CLIENT, server4, 80),
        Probe::tcp(CLIENT, server6, 80),
    ];
    let verdicts = topo.probe_all(&probes).expect("running the probes");
    assert_eq!(
        verdicts,
        [false, false, false, false, true, true],
        "port 81 and UDP are dropped, port 80 is not"
    );

    // (what, prefix, family, protocol, destination port)
    let wanted = [
        ("IPv4 TCP", "nf test ", Family::V4, 6, 81),
        ("IPv6 TCP", "nf6 test ", Family::V6, 6, 81),
        ("IPv4 UDP", "nf udp ", Family::V4, 17, 53),
        ("IPv6 UDP", "nf udp ", Family::V6, 17, 53),
    ];
    let is = |p: &LoggedPacket, prefix: &str, family: Family, proto: u8, port: u16| {
        p.prefix == prefix && p.family == family && p.protocol == proto && p.dst_port == Some(port)
    };
    let (packets, largest_batch) = collect(&mut sock, Duration::from_secs(5), |all| {
        wanted.iter().all(|&(_, prefix, family, proto, port)| {
            all.iter().any(|p| is(p, prefix, family, proto, port))
        })
    });
    let listing = format!("{packets:#?}");
    for (what, prefix, family, proto, port) in wanted {
        let (src, dst, hw) = match family {
            Family::V4 => (client4, server4, 0x0800),
            Family::V6 => (client6, server6, 0x86dd),
        };
        let p = packets
            .iter()
            .find(|p| is(p, prefix, family, proto, port))
            .unwrap_or_else(|| panic!("no {what} packet was logged; got {listing}"));
        assert_eq!((p.src, p.dst), (src, dst), "{what}: {p:?}");
        assert!(p.src_port.is_some_and(|s| s >= 1024), "{what}: {p:?}");
        assert_eq!(p.group, GROUP, "{what}: {p:?}");
        assert_eq!(
            p.hook,
            Some(2),
            "{what} was logged at the forward hook: {p:?}"
        );
        assert_eq!(p.hw_protocol, Some(hw), "{what}: {p:?}");
        assert_eq!(
            (p.indev, p.outdev),
            (
                Some(ifindex(&topo, topo.host_interface(CLIENT).unwrap())),
                Some(ifindex(&topo, topo.host_interface(SERVER).unwrap()))
            ),
            "{what}: in from the client's veth, out to the server's: {p:?}"
        );
    }
    // Only the dropped packets were logged (a probe sends one packet; a SYN retransmit
    // on a very slow machine would be one more of the same kind).
    assert!(
        packets.iter().all(|p| wanted
            .iter()
            .any(|&(_, prefix, family, proto, port)| is(p, prefix, family, proto, port))),
        "allowed traffic was logged: {listing}"
    );
    assert!(
        largest_batch > 1,
        "the kernel batched nothing (largest datagram held {largest_batch} packet(s))"
    );
    let stats = sock.stats();
    assert_eq!(stats.packets, packets.len() as u64, "{stats:?}");
    assert_eq!(
        (
            stats.overruns,
            stats.unparsed,
            stats.truncated,
            stats.errors
        ),
        (0, 0, 0, 0),
        "{stats:?}"
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn groups_are_exclusive_within_a_namespace_and_separate_across_namespaces() {
    let topo = topology();
    let server4: IpAddr = topo.addr_v4(SERVER).unwrap().into();
    let server6: IpAddr = topo.addr_v6(SERVER).unwrap().into();
    let node = worker(&topo, NODE);
    let client = worker(&topo, CLIENT);
    let config = Config {
        queue_threshold: 1,
        ..Config::default()
    };
    let first = open_in(&node, config).expect("opening group 7 in the node");
    let second = open_in(&node, config).expect_err("group 7 is taken in the node");
    // The kernel answers EPERM when the group belongs to another socket.
    assert_eq!(
        second.kind(),
        std::io::ErrorKind::PermissionDenied,
        "{second}"
    );
    assert!(second.to_string().contains("group 7"), "{second}");
    assert!(second.to_string().contains("holds the group"), "{second}");

    // The same group in another namespace is another instance, and sees nothing of the
    // node's drops.
    let mut in_pod = open_in(&client, config).expect("opening group 7 in a pod namespace");
    topo.nft(NODE, &rules(server4, server6), false)
        .expect("loading the logging ruleset");
    assert!(!topo.probe(&Probe::udp(CLIENT, server4, 53)).unwrap());
    in_pod
        .set_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(in_pod.recv().unwrap(), Vec::new());

    // Closing the socket releases the group.
    drop(first);
    let start = Instant::now();
    let mut reopened = loop {
        match open_in(&node, config) {
            Ok(s) => break s,
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && start.elapsed() < Duration::from_secs(2) =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("reopening group 7 after closing it: {e}"),
        }
    };
    assert!(!topo.probe(&Probe::udp(CLIENT, server6, 53)).unwrap());
    let (packets, _) = collect(&mut reopened, Duration::from_secs(5), |all| !all.is_empty());
    assert_eq!(packets.len(), 1, "{packets:#?}");
    assert_eq!((packets[0].dst, packets[0].protocol), (server6, 17));
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn recv_times_out_and_counts_overruns() {
    let topo = topology();
    let server4: IpAddr = topo.addr_v4(SERVER).unwrap().into();
    let server6: IpAddr = topo.addr_v6(SERVER).unwrap().into();
    let node = worker(&topo, NODE);
    // One datagram per packet, and a receive buffer too small to queue many.
    let config = Config {
        queue_threshold: 1,
        recv_buffer: Some(4096),
        ..Config::default()
    };
    let mut sock = open_in(&node, config).expect("opening group 7 in the node");

    // Nothing logged yet: recv returns empty after about the timeout.
    sock.set_timeout(Some(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    assert_eq!(sock.recv().unwrap(), Vec::new());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "recv with a 200 ms timeout returned after {waited:?}"
    );

    // 64 drops while nobody reads: the kernel cannot queue them all.
    topo.nft(NODE, &rules(server4, server6), false)
        .expect("loading the logging ruleset");
    let probes: Vec<Probe> = (0..64).map(|_| Probe::udp(CLIENT, server4, 53)).collect();
    let verdicts = topo.probe_all(&probes).expect("running the probes");
    assert!(verdicts.iter().all(|v| !v), "UDP is dropped");
    let (packets, _) = collect(&mut sock, Duration::from_secs(2), |_| false);
    let stats = sock.stats();
    assert!(stats.overruns > 0, "no overrun was counted: {stats:?}");
    assert!(
        !packets.is_empty() && packets.len() < 64,
        "{} packets read, {stats:?}",
        packets.len()
    );
    assert!(packets
        .iter()
        .all(|p| p.prefix == "nf udp " && p.dst == server4));

    // After an overrun the socket keeps working.
    assert!(!topo.probe(&Probe::udp(CLIENT, server6, 53)).unwrap());
    let (packets, _) = collect(&mut sock, Duration::from_secs(5), |all| {
        all.iter().any(|p| p.dst == server6)
    });
    assert!(packets.iter().any(|p| p.dst == server6), "{packets:#?}");
}
