//! Real-kernel tests of the harness itself: a 2-node, 4-pod dual-stack topology, every
//! TCP/UDP/SCTP probe between every ordered pair, then a ruleset in one node.
//! Needs root (CI runs as root); fails, never skips, without it.

use std::net::IpAddr;
use std::time::Instant;

use netfence_netns::{Error, NodeSpec, PodSpec, Probe, Protocol, Topology, TopologySpec, Verdict};

const POD_TCP: [u16; 2] = [80, 8080];
const POD_UDP: [u16; 2] = [53, 5353];
const POD_SCTP: [u16; 2] = [80, 81];
const NODE_TCP: [u16; 2] = [80, 10250];
const NODE_UDP: [u16; 1] = [53];
const NODE_SCTP: [u16; 2] = [80, 81];

fn pod(name: &str, v4: &str, v6: &str) -> PodSpec {
    PodSpec {
        name: name.into(),
        v4: Some(v4.parse().unwrap()),
        v6: Some(v6.parse().unwrap()),
        tcp_ports: POD_TCP.to_vec(),
        udp_ports: POD_UDP.to_vec(),
        sctp_ports: POD_SCTP.to_vec(),
    }
}

fn node(name: &str, v4: &str, v6: &str, pods: Vec<PodSpec>) -> NodeSpec {
    NodeSpec {
        tcp_ports: NODE_TCP.to_vec(),
        udp_ports: NODE_UDP.to_vec(),
        sctp_ports: NODE_SCTP.to_vec(),
        pods,
        ..NodeSpec::new(name, v4.parse().unwrap(), v6.parse().unwrap())
    }
}

fn spec() -> TopologySpec {
    TopologySpec {
        nodes: vec![
            node(
                "node-a",
                "172.18.0.2",
                "fc00:f853:ccd:e793::2",
                vec![
                    pod("default/a1", "10.244.1.2", "fd00:10:244:1::2"),
                    pod("default/a2", "10.244.1.3", "fd00:10:244:1::3"),
                ],
            ),
            node(
                "node-b",
                "172.18.0.3",
                "fc00:f853:ccd:e793::3",
                vec![
                    pod("other/b1", "10.244.2.2", "fd00:10:244:2::2"),
                    pod("other/b2", "10.244.2.3", "fd00:10:244:2::3"),
                ],
            ),
        ],
    }
}

fn build(spec: &TopologySpec) -> Topology {
    let t0 = Instant::now();
    let t = Topology::build(spec).unwrap_or_else(|e| {
        panic!("building the topology failed (these tests need root and run for real): {e}")
    });
    eprintln!(
        "built {} nodes / {} pods in {:?} (namespaces {}*)",
        spec.nodes.len(),
        spec.nodes.iter().map(|n| n.pods.len()).sum::<usize>(),
        t0.elapsed(),
        t.prefix()
    );
    t
}

/// Every endpoint name: nodes and pods.
fn endpoints(spec: &TopologySpec) -> Vec<String> {
    spec.nodes
        .iter()
        .flat_map(|n| std::iter::once(n.name.clone()).chain(n.pods.iter().map(|p| p.name.clone())))
        .collect()
}

fn is_node(spec: &TopologySpec, name: &str) -> bool {
    spec.nodes.iter().any(|n| n.name == name)
}

/// Every probe from every endpoint to every other one, both families, every listened port.
fn all_probes(t: &Topology) -> Vec<Probe> {
    let spec = t.spec();
    let names = endpoints(spec);
    let mut out = Vec::new();
    for from in &names {
        for to in &names {
            if from == to {
                continue;
            }
            let addrs: [IpAddr; 2] = [t.addr_v4(to).unwrap().into(), t.addr_v6(to).unwrap().into()];
            let node = is_node(spec, to);
            for addr in addrs {
                let (tcp, udp, sctp): (&[u16], &[u16], &[u16]) = if node {
                    (&NODE_TCP, &NODE_UDP, &NODE_SCTP)
                } else {
                    (&POD_TCP, &POD_UDP, &POD_SCTP)
                };
                for (proto, ports) in [
                    (Protocol::Tcp, tcp),
                    (Protocol::Udp, udp),
                    (Protocol::Sctp, sctp),
                ] {
                    for &port in ports {
                        out.push(Probe::new(from.clone(), addr, proto, port));
                    }
                }
            }
        }
    }
    out
}

fn timed_probe_all(t: &Topology, probes: &[Probe], what: &str) -> Vec<bool> {
    let t0 = Instant::now();
    let res = t
        .probe_all(probes)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let denied = res.iter().filter(|ok| !**ok).count();
    eprintln!(
        "{what}: {} probes ({denied} dropped) in {:?}",
        probes.len(),
        t0.elapsed()
    );
    res
}

/// Whether node-a's namespace forwards (rather than sends or receives) a packet.
fn forwarded_by(t: &Topology, node: &str, p: &Probe) -> bool {
    let spec = t.spec();
    let dst = t.owner_of(p.to).unwrap();
    let src_pod_here = !is_node(spec, &p.from) && t.node_of(&p.from) == Some(node);
    let dst_pod_here = !is_node(spec, dst) && t.node_of(dst) == Some(node);
    (src_pod_here && dst != node) || (dst_pod_here && p.from != node)
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn every_pair_connects_then_a_ruleset_drops_exactly_its_matches() {
    let spec = spec();
    let t = build(&spec);
    let probes = all_probes(&t);
    // Cross-node, pod->node, node->pod, both families, all three protocols.
    assert!(probes.len() > 300, "{}", probes.len());

    let base = timed_probe_all(&t, &probes, "no ruleset");
    let failed: Vec<String> = probes
        .iter()
        .zip(&base)
        .filter(|(_, ok)| !**ok)
        .map(|(p, _)| p.to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "dropped without any ruleset: {failed:#?}"
    );

    let a1 = t.addr_v4("default/a1").unwrap();
    let ruleset = format!(
        "table inet t {{
            chain f {{
                type filter hook forward priority 0; policy accept;
                ct state invalid drop
                ct state established,related accept
                ip daddr {a1} tcp dport 80 drop
                meta l4proto sctp th dport 81 drop
            }}
        }}"
    );
    t.nft("node-a", &ruleset, false)
        .expect("loading the ruleset");
    let listed = t
        .exec("node-a", &["nft", "list", "table", "inet", "t"])
        .unwrap();
    assert!(listed.contains("tcp dport 80 drop"), "{listed}");
    // The ruleset is in node-a only.
    let other = t.exec("node-b", &["nft", "list", "tables"]).unwrap();
    assert!(!other.contains("table inet t"), "{other}");

    let expected: Vec<bool> = probes
        .iter()
        .map(|p| {
            let blocked = forwarded_by(&t, "node-a", p)
                && ((p.protocol == Protocol::Tcp && p.to == IpAddr::V4(a1) && p.port == 80)
                    || (p.protocol == Protocol::Sctp && p.port == 81));
            !blocked
        })
        .collect();
    let got = timed_probe_all(&t, &probes, "with ruleset");
    let wrong: Vec<String> = probes
        .iter()
        .zip(got.iter().zip(&expected))
        .filter(|(_, (g, e))| g != e)
        .map(|(p, (g, _))| format!("{p}: got {}", if *g { "allowed" } else { "dropped" }))
        .collect();
    assert!(wrong.is_empty(), "unexpected verdicts: {wrong:#?}");
    let n_blocked = expected.iter().filter(|ok| !**ok).count();
    // TCP 80 to a1 from a2, b1, b2 and node-b (not node-a: OUTPUT, not FORWARD); SCTP 81
    // of every pair that crosses node-a's FORWARD: 28 of them over both families.
    assert_eq!(n_blocked, 4 + 28);

    // The packets reached the rules they should: the drop counters of conntrack-tracked
    // SCTP show the INITs were valid (`ct state invalid drop` is listed first).
    let ct = t
        .exec(
            "node-a",
            &["cat", "/proc/sys/net/netfilter/nf_conntrack_count"],
        )
        .unwrap();
    assert!(ct.trim().parse::<u64>().unwrap() > 0, "{ct}");
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn refusals_are_errors_not_denies_and_nft_errors_carry_stderr() {
    let spec = spec();
    let t = build(&spec);
    let b1_v4: IpAddr = t.addr_v4("other/b1").unwrap().into();
    let b1_v6: IpAddr = t.addr_v6("other/b1").unwrap().into();

    // Asking for a port nobody listens on is a harness error, before any packet.
    let e = t.probe(&Probe::tcp("default/a1", b1_v4, 9999)).unwrap_err();
    assert!(matches!(e, Error::Probe { .. }), "{e}");
    assert!(e.to_string().contains("no tcp listener"), "{e}");
    let e = t.probe(&Probe::udp("nobody", b1_v4, 53)).unwrap_err();
    assert!(matches!(e, Error::Probe { .. }), "{e}");
    let e = t
        .probe(&Probe::udp(
            "default/a1",
            "192.0.2.1".parse::<IpAddr>().unwrap(),
            53,
        ))
        .unwrap_err();
    assert!(matches!(e, Error::Probe { .. }), "{e}");

    // A reject rule answers with RST / ICMP: reported as a refusal, never as a deny.
    t.nft(
        "node-b",
        "table inet r {
            chain f {
                type filter hook forward priority 0; policy accept;
                tcp dport 8080 reject with tcp reset
                udp dport 5353 reject
                ip6 nexthdr tcp tcp dport 80 reject with icmpx type admin-prohibited
                meta l4proto sctp th dport 81 reject
            }
        }",
        false,
    )
    .unwrap();
    let probes = [
        Probe::tcp("default/a1", b1_v4, 8080),
        Probe::udp("default/a1", b1_v4, 5353),
        Probe::udp("default/a1", b1_v6, 5353),
        Probe::tcp("default/a1", b1_v6, 80),
        Probe::sctp("default/a1", b1_v4, 81),
        Probe::sctp("default/a1", b1_v6, 81),
        Probe::tcp("default/a1", b1_v4, 80),
        Probe::udp("default/a1", b1_v6, 53),
        Probe::sctp("default/a1", b1_v6, 80),
    ];
    let v = t.verdicts(&probes);
    for (p, v) in probes.iter().zip(&v) {
        eprintln!("{p}: {v:?}");
    }
    // Including an ICMPv6 error to a TCP SYN, which arrives while connect() still holds
    // the socket (see probe.rs), and ICMP errors to raw SCTP INITs.
    for v in &v[..6] {
        assert!(matches!(v, Ok(Verdict::Rejected(_))), "{v:?}");
    }
    for v in &v[6..] {
        assert_eq!(v.as_ref().unwrap(), &Verdict::Allowed);
    }
    let e = t.probe(&probes[0]).unwrap_err();
    assert!(matches!(e, Error::Rejected { .. }), "{e}");
    let e = t.probe_all(&probes).unwrap_err();
    match &e {
        Error::Probes(errs) => {
            assert_eq!(
                errs.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
                [0, 1, 2, 3, 4, 5]
            )
        }
        other => panic!("{other}"),
    }

    // nft's own error text comes back.
    let e = t
        .nft("node-a", "table inet x { chain c { bogus } }", false)
        .unwrap_err();
    match &e {
        Error::Command { stderr, .. } => assert!(stderr.contains("Error"), "{stderr}"),
        other => panic!("{other}"),
    }

    // JSON input, and a drop in the OUTPUT hook of a node (node-originated traffic).
    t.nft(
        "node-a",
        r#"{"nftables": [
            {"add": {"table": {"family": "inet", "name": "j"}}},
            {"add": {"chain": {"family": "inet", "table": "j", "name": "out",
                "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}}},
            {"add": {"rule": {"family": "inet", "table": "j", "chain": "out", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                 "right": 53}},
                {"drop": null}]}}}
        ]}"#,
        true,
    )
    .unwrap();
    let out = [
        Probe::udp("node-a", b1_v4, 53),
        Probe::udp("node-a", b1_v6, 53),
        Probe::tcp("node-a", b1_v4, 80),
        Probe::udp("default/a1", b1_v4, 53),
    ];
    assert_eq!(t.probe_all(&out).unwrap(), [false, false, true, true]);
}
