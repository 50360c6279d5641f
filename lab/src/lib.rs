//! A model's pods and nodes as network namespaces, its rulesets in their kernels, and
//! the check that every probe's verdict equals the analyzer's.

pub mod conformance;

use netfence_analyzer::{explain, reach, Flow, Party};
use netfence_model::{EndpointId, EndpointKind, Family, Model, Protocol};
use netfence_netns::{NodeSpec, PodSpec, Probe, Protocol as Wire, Topology, TopologySpec, Verdict};
use netfence_nft::{render_ruleset, Nft, NodeView, RenderOptions, Ruleset};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

pub struct Node {
    pub name: String,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
    /// Whether the model knows this address as the node's (a pod's hostIPs). Unknown
    /// ones are made up for the namespace and neither probed nor rendered as the node's.
    pub v4_known: bool,
    pub v6_known: bool,
}

pub struct Lab {
    pub topo: Topology,
    pub nodes: Vec<Node>,
    /// Kernel pods by their model name (`ns/name`).
    pub pods: BTreeMap<String, (Option<Ipv4Addr>, Option<Ipv6Addr>, String)>,
    pub ports: Vec<(Protocol, u16)>,
    /// The model names no node: one node enforces every pod (`NodeView` without name).
    pub nodeless: bool,
}

fn wire(p: Protocol) -> Wire {
    match p {
        Protocol::Tcp => Wire::Tcp,
        Protocol::Udp => Wire::Udp,
        Protocol::Sctp => Wire::Sctp,
    }
}

fn kernel_pods(model: &Model) -> impl Iterator<Item = &netfence_model::Endpoint> {
    model
        .cluster
        .endpoints
        .iter()
        .filter(|e| e.kind == EndpointKind::Pod && e.on_pod_network() && !e.addrs.is_empty())
}

/// The node's address of that family, if the model knows it.
fn known(n: &Node, f: Family) -> Option<IpAddr> {
    match f {
        Family::V4 => n.v4_known.then_some(IpAddr::V4(n.v4)),
        Family::V6 => n.v6_known.then_some(IpAddr::V6(n.v6)),
    }
}

fn node_of(e: &netfence_model::Endpoint) -> String {
    e.node.clone().unwrap_or_else(|| "node-1".into())
}

/// The (protocol, port) pairs declared by the model's pods, at most `max`, plus `extra`.
pub fn declared_ports(
    model: &Model,
    extra: &[(Protocol, u16)],
    max: usize,
) -> Vec<(Protocol, u16)> {
    let mut set: std::collections::BTreeSet<(Protocol, u16)> = extra.iter().copied().collect();
    for e in &model.cluster.endpoints {
        for p in &e.ports {
            if set.len() >= max {
                break;
            }
            set.insert((p.protocol, p.port));
        }
    }
    set.into_iter().collect()
}

impl Lab {
    /// Builds namespaces for every pod with an address (and its node) of `model`, each
    /// listening on `ports`; `spare` adds pods the model does not know (yet).
    pub fn build(model: &Model, ports: &[(Protocol, u16)], spare: &[(&str, &str, IpAddr)]) -> Lab {
        let mut nodes: BTreeMap<String, (Option<Ipv4Addr>, Option<Ipv6Addr>)> = BTreeMap::new();
        for e in &model.cluster.endpoints {
            if e.kind != EndpointKind::Pod || (e.addrs.is_empty() && e.host_addrs.is_empty()) {
                continue;
            }
            let n = nodes.entry(node_of(e)).or_default();
            for a in &e.host_addrs {
                match a {
                    IpAddr::V4(a) => n.0 = n.0.or(Some(*a)),
                    IpAddr::V6(a) => n.1 = n.1.or(Some(*a)),
                }
            }
        }
        for (_, node, _) in spare {
            nodes.entry(node.to_string()).or_default();
        }
        let nodes: Vec<Node> = nodes
            .into_iter()
            .enumerate()
            .map(|(i, (name, (v4, v6)))| Node {
                name,
                v4: v4.unwrap_or(Ipv4Addr::new(192, 168, 254, i as u8 + 1)),
                v6: v6.unwrap_or(Ipv6Addr::new(0xfd00, 0xffff, 0, 0, 0, 0, 0, i as u16 + 1)),
                v4_known: v4.is_some(),
                v6_known: v6.is_some(),
            })
            .collect();
        let listen = |proto: Protocol| -> Vec<u16> {
            ports
                .iter()
                .filter(|(p, _)| *p == proto)
                .map(|(_, n)| *n)
                .collect()
        };
        let mut specs: Vec<NodeSpec> = nodes
            .iter()
            .map(|n| {
                let mut s = NodeSpec::new(n.name.clone(), n.v4, n.v6);
                s.tcp_ports = listen(Protocol::Tcp);
                s.udp_ports = listen(Protocol::Udp);
                s.sctp_ports = listen(Protocol::Sctp);
                s
            })
            .collect();
        let mut pods = BTreeMap::new();
        let mut add_pod = |name: String, node: &str, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>| {
            let spec = specs.iter_mut().find(|s| s.name == node).expect("node");
            spec.pods.push(PodSpec {
                name: name.clone(),
                v4,
                v6,
                tcp_ports: listen(Protocol::Tcp),
                udp_ports: listen(Protocol::Udp),
                sctp_ports: listen(Protocol::Sctp),
            });
            pods.insert(name, (v4, v6, node.to_string()));
        };
        for e in kernel_pods(model) {
            let v4 = e.addrs.iter().find_map(|a| match a {
                IpAddr::V4(a) => Some(*a),
                _ => None,
            });
            let v6 = e.addrs.iter().find_map(|a| match a {
                IpAddr::V6(a) => Some(*a),
                _ => None,
            });
            add_pod(model.cluster.endpoint_name(e.id), &node_of(e), v4, v6);
        }
        for (name, node, addr) in spare {
            let (v4, v6) = match addr {
                IpAddr::V4(a) => (Some(*a), None),
                IpAddr::V6(a) => (None, Some(*a)),
            };
            add_pod(name.to_string(), node, v4, v6);
        }
        let with_node = kernel_pods(model).filter(|e| e.node.is_some()).count();
        let nodeless = with_node == 0;
        assert!(
            nodeless || with_node == kernel_pods(model).count(),
            "a model's pods either all name their node or none does"
        );
        let mut topo = Topology::build(&TopologySpec { nodes: specs }).expect("building the lab");
        topo.set_probe_timeout(Duration::from_millis(300));
        Lab {
            topo,
            nodes,
            pods,
            ports: ports.to_vec(),
            nodeless,
        }
    }

    pub fn nft(&self, node: &str) -> Nft {
        Nft::in_netns(self.topo.netns(node).expect("node namespace"))
    }

    pub fn node_view(&self, node: &Node) -> NodeView {
        let mut addrs: Vec<IpAddr> = Vec::new();
        if node.v4_known {
            addrs.push(node.v4.into());
        }
        if node.v6_known {
            addrs.push(node.v6.into());
        }
        NodeView {
            name: (!self.nodeless).then(|| node.name.clone()),
            addrs,
        }
    }

    /// Renders and replaces every node's ruleset; returns them by node.
    pub fn load_full(&self, model: &Model, opts: &RenderOptions) -> Vec<Ruleset> {
        self.nodes
            .iter()
            .map(|n| {
                let rs = render_ruleset(model, &self.node_view(n), opts).expect("render");
                self.nft(&n.name)
                    .replace(&rs)
                    .unwrap_or_else(|e| panic!("loading the ruleset of {}: {e}", n.name));
                self.forget_connections(&n.name);
                rs
            })
            .collect()
    }

    /// Deletes the node's conntrack entries: probes of the next scenario must be new
    /// connections, not replies to an earlier scenario's (probe source ports wrap).
    pub fn forget_connections(&self, node: &str) {
        self.topo
            .exec(node, &["conntrack", "-F"])
            .unwrap_or_else(|e| panic!("flushing conntrack on {node}: {e}"));
    }

    /// Every probe the lab can run, with the analyzer questions it answers.
    pub fn questions(&self, model: &Model) -> Vec<(Probe, Vec<Flow>)> {
        let cluster = &model.cluster;
        let ep = |name: &str| cluster.endpoint_by_key(name);
        let host_pods: Vec<(&str, EndpointId)> = cluster
            .endpoints
            .iter()
            .filter(|e| !e.on_pod_network() && e.kind == EndpointKind::Pod)
            .map(|e| (e.node.as_deref().unwrap_or("node-1"), e.id))
            .collect();
        let addr = |v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>, f: Family| -> Option<IpAddr> {
            match f {
                Family::V4 => v4.map(IpAddr::V4),
                Family::V6 => v6.map(IpAddr::V6),
            }
        };
        let mut out = Vec::new();
        let flow = |from, to, (proto, port): (Protocol, u16), f| Flow {
            from,
            to,
            protocol: Some(proto),
            port: Some(port),
            family: Some(f),
        };
        for &pp in &self.ports {
            for f in Family::ALL {
                for (s, (s4, s6, _)) in &self.pods {
                    let Some(sid) = ep(s) else { continue };
                    if addr(*s4, *s6, f).is_none() {
                        continue;
                    }
                    // Pod to pod.
                    for (d, (d4, d6, _)) in &self.pods {
                        let (Some(did), Some(to)) = (ep(d), addr(*d4, *d6, f)) else {
                            continue;
                        };
                        if s == d {
                            continue;
                        }
                        out.push((
                            Probe::new(s.clone(), to, wire(pp.0), pp.1),
                            vec![flow(Party::Endpoint(sid), Party::Endpoint(did), pp, f)],
                        ));
                    }
                    // Pod to each node (a hostNetwork pod there is that node too).
                    for n in &self.nodes {
                        let Some(to) = known(n, f) else { continue };
                        let mut flows = vec![flow(
                            Party::Endpoint(sid),
                            Party::External(to.into()),
                            pp,
                            f,
                        )];
                        for (hn, hid) in &host_pods {
                            if *hn == n.name && cluster.endpoint(*hid).addrs.contains(&to) {
                                flows.push(flow(
                                    Party::Endpoint(sid),
                                    Party::Endpoint(*hid),
                                    pp,
                                    f,
                                ));
                            }
                        }
                        out.push((Probe::new(s.clone(), to, wire(pp.0), pp.1), flows));
                    }
                }
                // Each node to each pod.
                for n in &self.nodes {
                    let Some(from) = known(n, f) else { continue };
                    for (d, (d4, d6, _)) in &self.pods {
                        let (Some(did), Some(to)) = (ep(d), addr(*d4, *d6, f)) else {
                            continue;
                        };
                        let mut flows = vec![flow(
                            Party::External(from.into()),
                            Party::Endpoint(did),
                            pp,
                            f,
                        )];
                        for (hn, hid) in &host_pods {
                            if *hn == n.name && cluster.endpoint(*hid).addrs.contains(&from) {
                                flows.push(flow(
                                    Party::Endpoint(*hid),
                                    Party::Endpoint(did),
                                    pp,
                                    f,
                                ));
                            }
                        }
                        out.push((Probe::new(n.name.clone(), to, wire(pp.0), pp.1), flows));
                    }
                }
            }
        }
        out
    }

    /// Probes everything and asserts the kernel agrees with the analyzer on every probe.
    /// Returns (allowed, denied) counts.
    pub fn assert_agrees(&self, model: &Model, label: &str) -> (usize, usize) {
        let questions = self.questions(model);
        let probes: Vec<Probe> = questions.iter().map(|(p, _)| p.clone()).collect();
        let verdicts = self.topo.verdicts(&probes);
        let mut mismatches = Vec::new();
        let (mut allowed, mut denied) = (0, 0);
        for ((probe, flows), verdict) in questions.iter().zip(verdicts) {
            let kernel = match verdict {
                Ok(Verdict::Allowed) => true,
                Ok(Verdict::Dropped) => false,
                other => panic!("{label}: probe {probe} did not run cleanly: {other:?}"),
            };
            if kernel {
                allowed += 1;
            } else {
                denied += 1;
            }
            for f in flows {
                let r = reach(model, *f);
                if r.allowed != kernel {
                    mismatches.push(format!(
                        "{probe}: kernel {}, analyzer {}\n{}",
                        if kernel { "ALLOWED" } else { "DROPPED" },
                        if r.allowed { "ALLOWED" } else { "DENIED" },
                        explain::render(model, &r)
                    ));
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "{label}: {} of {} probes disagree with the analyzer; first ones:\n{}",
            mismatches.len(),
            questions.len(),
            mismatches
                .iter()
                .take(12)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        eprintln!(
            "{label}: {} probes agree ({allowed} allowed, {denied} dropped)",
            questions.len()
        );
        (allowed, denied)
    }
}
