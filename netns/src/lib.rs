//! A real-kernel test harness: Kubernetes-like nodes and pods built out of network
//! namespaces, probed with real TCP, UDP and SCTP packets. No mocks.
//!
//! Layout (the routed layout Calico and kindnet use):
//! - one namespace per node, IPv4 and IPv6 forwarding on, the node's own addresses on `lo`
//!   (so node-originated traffic has them as source and pod->node traffic reaches the
//!   node's INPUT hook);
//! - one namespace per pod, a veth pair `eth0` <-> `nfp<j>` (j = the pod's index on its
//!   node) into its node, a /32 and /128 route through it on the node, and default routes
//!   in the pod via 169.254.1.1 and fe80::1 (both on every pod veth of the node);
//! - every pair of nodes joined by a veth pair `nft<k>` (k = the peer node's index), with
//!   routes for the peer's addresses and pod addresses via that link (next hops
//!   169.254.254.<k+1> and fe80::ff:<k+1>).
//!
//! Namespace names are `nfx<pid>-<n>-n<i>` (node i) and `nfx<pid>-<n>-n<i>p<j>` (pod j of
//! node i), where n counts the topologies of the process. Interfaces are created directly
//! inside their namespaces and never exist in the root namespace, so their short fixed
//! names cannot collide between runs.
//!
//! Every pod and node runs listeners on the ports its spec lists: TCP sockets that accept,
//! UDP sockets that echo, and for SCTP (which this kernel has no stack for) a raw socket of
//! protocol 132 that reports INIT chunks. A probe sends real packets from a socket created
//! inside the source namespace.
//!
//! Verdicts: TCP connected / UDP echo received / SCTP INIT received is "allowed", silence
//! until the timeout (default 400 ms) is "dropped". A TCP RST or an ICMP error is neither:
//! every probed port must have a listener (checked before sending), so a refusal is
//! reported as an error ([`Error::Rejected`]) or as [`Verdict::Rejected`], never as a deny.
//!
//! ```no_run
//! use netfence_netns::{NodeSpec, PodSpec, Probe, Topology, TopologySpec};
//!
//! let web = PodSpec {
//!     name: "default/web".into(),
//!     v4: Some("10.244.1.2".parse().unwrap()),
//!     v6: Some("fd00:10:244:1::2".parse().unwrap()),
//!     tcp_ports: vec![80],
//!     ..Default::default()
//! };
//! let client = PodSpec {
//!     name: "default/client".into(),
//!     v4: Some("10.244.1.3".parse().unwrap()),
//!     v6: Some("fd00:10:244:1::3".parse().unwrap()),
//!     ..Default::default()
//! };
//! let spec = TopologySpec {
//!     nodes: vec![NodeSpec {
//!         pods: vec![web, client],
//!         ..NodeSpec::new("node-a", "172.18.0.2".parse().unwrap(), "fc00::2".parse().unwrap())
//!     }],
//! };
//! let topo = Topology::build(&spec)?; // root only; Drop deletes the namespaces
//! let web4 = topo.addr_v4("default/web").unwrap();
//! assert!(topo.probe(&Probe::tcp("default/client", web4, 80))?);
//! topo.nft(
//!     "node-a",
//!     "table inet t { chain f { type filter hook forward priority 0; tcp dport 80 drop; }; }",
//!     false,
//! )?;
//! assert!(!topo.probe(&Probe::tcp("default/client", web4, 80))?);
//! # Ok::<(), netfence_netns::Error>(())
//! ```

mod listen;
mod ns;
mod probe;
pub mod sctp;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use listen::{Ports, SctpBoard, Server};

pub use ns::{Worker, NAME_ROOT, NETNS_DIR};

/// The errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the netns harness must run as root (needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create \
         network namespaces); effective uid is {euid}"
    )]
    NotRoot { euid: u32 },
    #[error("invalid topology spec: {0}")]
    Spec(String),
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
        stdout: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The probe could not be run as asked (unknown source, no listener at the
    /// destination, a socket call failed, a mangled packet): a bug in the test or harness.
    #[error("probe {probe}: {reason}")]
    Probe { probe: String, reason: String },
    /// The probe was actively refused (TCP RST or an ICMP error). Every probed port has a
    /// listener, so this is either a `reject` rule or a harness bug; never a silent deny.
    #[error("probe {probe} was refused: {detail}")]
    Rejected { probe: String, detail: String },
    /// Some probes of a batch failed; each with its index in the batch.
    #[error("{}", fmt_failures(.0))]
    Probes(Vec<(usize, Error)>),
}

fn fmt_failures(errs: &[(usize, Error)]) -> String {
    let mut s = format!("{} probe(s) failed:", errs.len());
    for (i, e) in errs {
        s.push_str(&format!("\n  #{i}: {e}"));
    }
    s
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The nodes of a topology.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologySpec {
    pub nodes: Vec<NodeSpec>,
}

/// One node: a namespace that routes for its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's name; must not clash with a pod name.
    pub name: String,
    /// The node's own addresses (the pods' hostIP), put on the node's `lo`.
    pub addr_v4: Ipv4Addr,
    pub addr_v6: Ipv6Addr,
    /// Ports the node itself listens on (node-addressed probes, e.g. a kubelet port).
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
    pub sctp_ports: Vec<u16>,
    pub pods: Vec<PodSpec>,
}

impl NodeSpec {
    /// A node without listeners or pods.
    pub fn new(name: impl Into<String>, addr_v4: Ipv4Addr, addr_v6: Ipv6Addr) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            addr_v4,
            addr_v6,
            tcp_ports: Vec::new(),
            udp_ports: Vec::new(),
            sctp_ports: Vec::new(),
            pods: Vec::new(),
        }
    }
}

/// One pod: a namespace with a veth into its node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpec {
    /// The Kubernetes name, `namespace/name`.
    pub name: String,
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
    pub sctp_ports: Vec<u16>,
}

/// A transport protocol a probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// One probe: from a pod (`ns/name`) or node (its name, traffic from the node's address)
/// to an address and port of a pod or node of the topology.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    pub from: String,
    pub to: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    /// Send to this address and port instead (a Service VIP that a DNAT rule in the
    /// node rewrites to `to:port`); the listener at `to:port` must still answer.
    pub via: Option<(IpAddr, u16)>,
}

impl Probe {
    pub fn new(from: impl Into<String>, to: IpAddr, protocol: Protocol, port: u16) -> Probe {
        Probe {
            from: from.into(),
            to,
            protocol,
            port,
            via: None,
        }
    }

    /// The same probe sent through a Service address that DNAT maps to `to:port`.
    pub fn through(mut self, vip: IpAddr, vip_port: u16) -> Probe {
        self.via = Some((vip, vip_port));
        self
    }
    pub fn tcp(from: impl Into<String>, to: impl Into<IpAddr>, port: u16) -> Probe {
        Probe::new(from, to.into(), Protocol::Tcp, port)
    }
    pub fn udp(from: impl Into<String>, to: impl Into<IpAddr>, port: u16) -> Probe {
        Probe::new(from, to.into(), Protocol::Udp, port)
    }
    pub fn sctp(from: impl Into<String>, to: impl Into<IpAddr>, port: u16) -> Probe {
        Probe::new(from, to.into(), Protocol::Sctp, port)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = std::net::SocketAddr::new(self.to, self.port);
        match self.via {
            Some((vip, vport)) => write!(
                f,
                "{} {} -> {} (DNAT to {to})",
                self.protocol,
                self.from,
                std::net::SocketAddr::new(vip, vport)
            ),
            None => write!(f, "{} {} -> {to}", self.protocol, self.from),
        }
    }
}

/// What happened to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// TCP connected, the UDP echo came back, the SCTP INIT arrived.
    Allowed,
    /// Nothing came back before the timeout (or a local OUTPUT hook dropped it: EPERM).
    Dropped,
    /// A TCP RST or an ICMP error came back.
    Rejected(String),
}

/// Set this environment variable (to anything but `0`) to keep the namespaces of dropped
/// topologies for debugging; [`cleanup_dead_runs`] removes them once the process is gone.
pub const KEEP_ENV: &str = "NETFENCE_NETNS_KEEP";

/// Default time a probe waits before calling it dropped.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(400);

struct Endpoint {
    name: String,
    /// Index of the node namespace (for a node: itself).
    node: usize,
    is_node: bool,
    /// For a pod: its index among its node's pods.
    pod_index: usize,
    netns: String,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
    ports: Ports,
    /// For a pod: the node-side veth name.
    host_iface: Option<String>,
}

/// Nodes and pods made of network namespaces, with listeners running. Dropping it stops
/// the listeners and deletes every namespace it created.
pub struct Topology {
    prefix: String,
    spec: TopologySpec,
    endpoints: Vec<Endpoint>,
    by_name: HashMap<String, usize>,
    by_addr: HashMap<IpAddr, usize>,
    /// Parallel to `endpoints`; filled as namespaces come up.
    workers: Vec<Worker>,
    servers: Vec<Server>,
    board: Arc<SctpBoard>,
    /// Every namespace name this topology may have created.
    netns: Vec<String>,
    probe_timeout: Duration,
    confirm_drops: bool,
    parallelism: usize,
}

static TOPOLOGIES: AtomicUsize = AtomicUsize::new(0);

/// The prefix of every namespace this process creates: `nfx<pid>-`.
pub fn run_prefix() -> String {
    format!("{NAME_ROOT}{}-", std::process::id())
}

/// Names of existing namespaces that start with `prefix`.
pub fn list_namespaces(prefix: &str) -> Result<Vec<String>> {
    ns::list(prefix)
}

/// Deletes every namespace whose name starts with `prefix` and returns their names.
pub fn cleanup_stale(prefix: &str) -> Result<Vec<String>> {
    if prefix.is_empty() {
        return Err(Error::Spec("cleanup_stale needs a non-empty prefix".into()));
    }
    let names = ns::list(prefix)?;
    ns::delete(&names)?;
    Ok(names)
}

/// Deletes the namespaces left behind by processes of this crate that no longer run
/// (`nfx<pid>-...` with no process `<pid>`), and returns their names. [`Topology::build`]
/// calls it first.
pub fn cleanup_dead_runs() -> Result<Vec<String>> {
    let dead: Vec<String> = ns::list(NAME_ROOT)?
        .into_iter()
        .filter(|n| {
            let rest = &n[NAME_ROOT.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            !digits.is_empty()
                && rest[digits.len()..].starts_with('-')
                && !std::path::Path::new(&format!("/proc/{digits}")).exists()
        })
        .collect();
    ns::delete(&dead)?;
    Ok(dead)
}

fn check_root() -> Result<()> {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot {
            euid: euid.as_raw(),
        })
    }
}

/// Listeners and probe sockets are file descriptors: raises the soft limit to the hard one
/// and returns how many probes may run at once (each holds one socket; a drop holds it for
/// the whole timeout, so more in flight means fewer timeout "waves").
fn raise_nofile_limit() -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let mut limit = 1024;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        limit = soft;
        if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
            limit = hard;
        }
    }
    // Leave room for listeners and everything else the test process opens.
    usize::try_from(limit / 4)
        .unwrap_or(usize::MAX)
        .clamp(16, 1024)
}

fn validate(spec: &TopologySpec) -> Result<()> {
    let err = |m: String| Err(Error::Spec(m));
    if spec.nodes.is_empty() {
        return err("no nodes".into());
    }
    if spec.nodes.len() > 250 {
        return err(format!("{} nodes; at most 250", spec.nodes.len()));
    }
    let mut names = HashSet::new();
    let mut addrs = HashSet::new();
    let mut addr = |a: IpAddr, owner: &str| -> Result<()> {
        if a.is_unspecified() || a.is_loopback() || a.is_multicast() {
            return err(format!("{owner}: address {a} is not a unicast address"));
        }
        if !addrs.insert(a) {
            return err(format!("address {a} is used twice"));
        }
        Ok(())
    };
    for n in &spec.nodes {
        if n.name.is_empty() || !names.insert(n.name.as_str()) {
            return err(format!("node name {:?} is empty or used twice", n.name));
        }
        addr(IpAddr::V4(n.addr_v4), &n.name)?;
        addr(IpAddr::V6(n.addr_v6), &n.name)?;
        if n.pods.len() > 10_000 {
            return err(format!("node {}: too many pods", n.name));
        }
        for p in &n.pods {
            if p.name.is_empty() || !names.insert(p.name.as_str()) {
                return err(format!("pod name {:?} is empty or used twice", p.name));
            }
            if p.v4.is_none() && p.v6.is_none() {
                return err(format!("pod {} has no address", p.name));
            }
            if let Some(a) = p.v4 {
                addr(IpAddr::V4(a), &p.name)?;
            }
            if let Some(a) = p.v6 {
                addr(IpAddr::V6(a), &p.name)?;
            }
        }
    }
    Ok(())
}

/// The `ip -batch` lines that configure node `i`.
///
/// IPv4 routes carry `src <node address>`, or node-originated packets would leave with
/// 169.254.x as source. IPv6 routes do not: the kernel refuses a `src` that is still
/// tentative (every new IPv6 address is, for a moment, even without DAD), and source
/// address selection picks the node's address anyway, as it is its only global one.
fn node_batch(spec: &TopologySpec, i: usize) -> String {
    let n = &spec.nodes[i];
    let mut b = String::new();
    let mut line = |s: String| {
        b.push_str(&s);
        b.push('\n');
    };
    line("link set lo up".into());
    line(format!("addr add {}/32 dev lo", n.addr_v4));
    line(format!("addr add {}/128 dev lo", n.addr_v6));
    for (j, p) in n.pods.iter().enumerate() {
        let dev = format!("nfp{j}");
        line(format!("link set {dev} up"));
        line(format!("addr add 169.254.1.1/32 dev {dev}"));
        line(format!("addr add fe80::1/64 dev {dev} nodad"));
        if let Some(a) = p.v4 {
            line(format!("route add {a}/32 dev {dev} src {}", n.addr_v4));
        }
        if let Some(a) = p.v6 {
            line(format!("route add {a}/128 dev {dev}"));
        }
    }
    for (k, peer) in spec.nodes.iter().enumerate() {
        if k == i {
            continue;
        }
        let dev = format!("nft{k}");
        let gw4 = format!("169.254.254.{}", k + 1);
        let gw6 = format!("fe80::ff:{:x}", k + 1);
        line(format!("link set {dev} up"));
        line(format!("addr add 169.254.254.{}/32 dev {dev}", i + 1));
        line(format!("addr add fe80::ff:{:x}/64 dev {dev} nodad", i + 1));
        line(format!("route add {gw4}/32 dev {dev}"));
        let via4 = |a: Ipv4Addr| format!("route add {a}/32 via {gw4} dev {dev} src {}", n.addr_v4);
        let via6 = |a: Ipv6Addr| format!("route add {a}/128 via {gw6} dev {dev}");
        line(via4(peer.addr_v4));
        line(via6(peer.addr_v6));
        for p in &peer.pods {
            if let Some(a) = p.v4 {
                line(via4(a));
            }
            if let Some(a) = p.v6 {
                line(via6(a));
            }
        }
    }
    b
}

/// The `ip -batch` lines that configure a pod.
fn pod_batch(p: &PodSpec) -> String {
    let mut b = String::from("link set lo up\nlink set eth0 up\n");
    if let Some(a) = p.v4 {
        b.push_str(&format!(
            "addr add {a}/32 dev eth0\n\
             route add 169.254.1.1/32 dev eth0 scope link\n\
             route add default via 169.254.1.1 dev eth0 src {a}\n"
        ));
    }
    if let Some(a) = p.v6 {
        b.push_str(&format!(
            "addr add {a}/128 dev eth0 nodad\n\
             route add ::/0 via fe80::1 dev eth0\n"
        ));
    }
    b
}

fn sysctls(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Topology {
    /// Builds the namespaces, links, addresses and routes of `spec` and starts every
    /// listener. On failure everything created so far is deleted.
    pub fn build(spec: &TopologySpec) -> Result<Topology> {
        check_root()?;
        validate(spec)?;
        let parallelism = raise_nofile_limit();
        // Best effort: a dead run's leftovers never clash with our names anyway.
        if let Err(e) = cleanup_dead_runs() {
            eprintln!("netfence-netns: cleaning up namespaces of dead runs: {e}");
        }
        let prefix = format!(
            "{}{}-",
            run_prefix(),
            TOPOLOGIES.fetch_add(1, Ordering::Relaxed)
        );
        let mut t = Topology {
            prefix: prefix.clone(),
            spec: spec.clone(),
            endpoints: Vec::new(),
            by_name: HashMap::new(),
            by_addr: HashMap::new(),
            workers: Vec::new(),
            servers: Vec::new(),
            board: Arc::new(SctpBoard::default()),
            netns: Vec::new(),
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            confirm_drops: true,
            parallelism,
        };
        for (i, n) in spec.nodes.iter().enumerate() {
            t.endpoints.push(Endpoint {
                name: n.name.clone(),
                node: i,
                is_node: true,
                pod_index: 0,
                netns: format!("{prefix}n{i}"),
                v4: Some(n.addr_v4),
                v6: Some(n.addr_v6),
                ports: Ports {
                    tcp: n.tcp_ports.clone(),
                    udp: n.udp_ports.clone(),
                    sctp: n.sctp_ports.clone(),
                },
                host_iface: None,
            });
        }
        for (i, n) in spec.nodes.iter().enumerate() {
            for (j, p) in n.pods.iter().enumerate() {
                t.endpoints.push(Endpoint {
                    name: p.name.clone(),
                    node: i,
                    is_node: false,
                    pod_index: j,
                    netns: format!("{prefix}n{i}p{j}"),
                    v4: p.v4,
                    v6: p.v6,
                    ports: Ports {
                        tcp: p.tcp_ports.clone(),
                        udp: p.udp_ports.clone(),
                        sctp: p.sctp_ports.clone(),
                    },
                    host_iface: Some(format!("nfp{j}")),
                });
            }
        }
        for (idx, e) in t.endpoints.iter().enumerate() {
            t.by_name.insert(e.name.clone(), idx);
            for a in [e.v4.map(IpAddr::V4), e.v6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
            {
                t.by_addr.insert(a, idx);
            }
        }
        t.netns = t.endpoints.iter().map(|e| e.netns.clone()).collect();
        // Same pid as a dead run that left these exact names behind: start clean.
        ns::delete(&t.netns)?;

        let adds: String = t.netns.iter().map(|n| format!("netns add {n}\n")).collect();
        ns::run("ip", &["-batch", "-"], Some(&adds))?;

        // No duplicate address detection (a tentative address cannot be bound for ~1 s).
        let common = [
            ("net/ipv6/conf/all/accept_dad", "0"),
            ("net/ipv6/conf/default/accept_dad", "0"),
        ];
        let node_extra = [
            ("net/ipv4/ip_forward", "1"),
            ("net/ipv6/conf/all/forwarding", "1"),
            ("net/ipv6/conf/default/forwarding", "1"),
            ("net/ipv4/conf/all/rp_filter", "0"),
            ("net/ipv4/conf/default/rp_filter", "0"),
        ];
        for e in &t.endpoints {
            let w = Worker::start(&e.netns)?;
            let mut settings = sysctls(&common);
            if e.is_node {
                settings.extend(sysctls(&node_extra));
            }
            w.sysctls(settings)?;
            t.workers.push(w);
        }

        // Links, created directly inside their namespaces.
        let node_ns = |i: usize| &t.endpoints[i].netns;
        let mut links = String::new();
        for e in t.endpoints.iter().filter(|e| !e.is_node) {
            links.push_str(&format!(
                "link add {} netns {} type veth peer name eth0 netns {}\n",
                e.host_iface.as_deref().unwrap_or_default(),
                node_ns(e.node),
                e.netns
            ));
        }
        for i in 0..spec.nodes.len() {
            for k in i + 1..spec.nodes.len() {
                links.push_str(&format!(
                    "link add nft{k} netns {} type veth peer name nft{i} netns {}\n",
                    node_ns(i),
                    node_ns(k)
                ));
            }
        }
        if !links.is_empty() {
            ns::run("ip", &["-batch", "-"], Some(&links))?;
        }

        // Addresses and routes, one `ip -n NS -batch -` per namespace, in parallel.
        let mut jobs: Vec<(String, String)> = Vec::new();
        for (i, e) in t.endpoints.iter().enumerate() {
            let batch = if e.is_node {
                node_batch(spec, i)
            } else {
                pod_batch(&spec.nodes[e.node].pods[e.pod_index])
            };
            jobs.push((e.netns.clone(), batch));
        }
        let results: Vec<Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .chunks(jobs.len().div_ceil(8).max(1))
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|(name, batch)| {
                                ns::run("ip", &["-n", name, "-batch", "-"], Some(batch))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("ip configuration thread panicked"))
                .collect()
        });
        for r in results {
            r?;
        }

        // A new IPv6 address is tentative for a moment even without DAD, and cannot be
        // bound (or answer neighbour solicitations) until it is not.
        for w in &t.workers {
            w.wait_ipv6_settled(Duration::from_secs(5))?;
        }

        // Listeners, created inside each namespace and served from one thread each.
        for (e, w) in t.endpoints.iter().zip(&t.workers) {
            if e.ports.tcp.is_empty() && e.ports.udp.is_empty() && e.ports.sctp.is_empty() {
                continue;
            }
            let addrs: Vec<IpAddr> = [e.v4.map(IpAddr::V4), e.v6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
                .collect();
            let ports = e.ports.clone();
            let listeners = w
                .run(move || listen::create(&addrs, &ports))
                .map_err(|err| Error::io(format!("starting listeners of {}", e.name), err))?;
            t.servers
                .push(Server::start(&e.netns, listeners, Arc::clone(&t.board))?);
        }
        Ok(t)
    }

    /// The prefix of this topology's namespace names (`nfx<pid>-<n>-`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The spec this topology was built from.
    pub fn spec(&self) -> &TopologySpec {
        &self.spec
    }

    /// The namespace of a node or pod.
    pub fn netns(&self, name: &str) -> Option<&str> {
        self.endpoint(name).map(|e| e.netns.as_str())
    }

    /// The node a pod runs on (a node's node is itself).
    pub fn node_of(&self, name: &str) -> Option<&str> {
        self.endpoint(name)
            .map(|e| self.endpoints[e.node].name.as_str())
    }

    /// The node-side veth of a pod (`nfp<j>` in its node's namespace).
    pub fn host_interface(&self, pod: &str) -> Option<&str> {
        self.endpoint(pod).and_then(|e| e.host_iface.as_deref())
    }

    /// The IPv4 address of a pod or node.
    pub fn addr_v4(&self, name: &str) -> Option<Ipv4Addr> {
        self.endpoint(name).and_then(|e| e.v4)
    }

    /// The IPv6 address of a pod or node.
    pub fn addr_v6(&self, name: &str) -> Option<Ipv6Addr> {
        self.endpoint(name).and_then(|e| e.v6)
    }

    /// The pod or node that owns `addr`.
    pub fn owner_of(&self, addr: IpAddr) -> Option<&str> {
        self.by_addr
            .get(&addr)
            .map(|&i| self.endpoints[i].name.as_str())
    }

    fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.by_name.get(name).map(|&i| &self.endpoints[i])
    }

    fn netns_or_err(&self, name: &str) -> Result<&str> {
        self.netns(name)
            .ok_or_else(|| Error::Spec(format!("no node or pod named {name:?}")))
    }

    /// How long a probe waits before calling it dropped (default 400 ms).
    pub fn set_probe_timeout(&mut self, timeout: Duration) {
        self.probe_timeout = timeout;
    }

    /// Whether [`Topology::probe_all`] runs dropped probes a second time and keeps the
    /// second verdict (default on: guards against a scheduler hiccup on a loaded machine
    /// at the cost of one more timeout per batch that has drops).
    pub fn set_confirm_drops(&mut self, confirm: bool) {
        self.confirm_drops = confirm;
    }

    /// How many probes of a batch run at once (default: 1024, or a quarter of the open
    /// file limit if that is lower).
    pub fn set_parallelism(&mut self, n: usize) {
        self.parallelism = n.max(1);
    }

    /// Runs `ip netns exec NETNS args...` for a node or pod and returns its stdout.
    pub fn exec(&self, name: &str, args: &[&str]) -> Result<String> {
        self.exec_stdin(name, args, None)
    }

    /// Like [`Topology::exec`], with `stdin` fed to the command.
    pub fn exec_stdin(&self, name: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let netns = self.netns_or_err(name)?;
        let mut full = vec!["netns", "exec", netns];
        full.extend_from_slice(args);
        ns::run("ip", &full, stdin)
    }

    /// Loads a ruleset into a node's (or pod's) namespace: `nft -f -` (or `nft -j -f -`
    /// for JSON) with `script` on stdin. nft's stderr is in the error.
    pub fn nft(&self, name: &str, script: &str, json: bool) -> Result<()> {
        let args: &[&str] = if json {
            &["nft", "-j", "-f", "-"]
        } else {
            &["nft", "-f", "-"]
        };
        self.exec_stdin(name, args, Some(script)).map(|_| ())
    }

    /// Runs one probe: `Ok(true)` when it got through, `Ok(false)` when it was dropped,
    /// an error when it was refused (RST / ICMP) or could not be run.
    pub fn probe(&self, p: &Probe) -> Result<bool> {
        verdict_to_bool(p, self.verdict(p))
    }

    /// Runs many probes in parallel; one result per probe, in order, or an error that
    /// lists every probe that was refused or could not be run.
    pub fn probe_all(&self, probes: &[Probe]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(probes.len());
        let mut errs = Vec::new();
        for (i, (p, v)) in probes.iter().zip(self.verdicts(probes)).enumerate() {
            match verdict_to_bool(p, v) {
                Ok(b) => out.push(b),
                Err(e) => errs.push((i, e)),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(Error::Probes(errs))
        }
    }

    /// The verdict of one probe (a refusal is a [`Verdict::Rejected`], not an error).
    pub fn verdict(&self, p: &Probe) -> Result<Verdict> {
        self.verdicts(std::slice::from_ref(p))
            .pop()
            .expect("one verdict per probe")
    }

    /// The verdicts of many probes, run in parallel, in order.
    pub fn verdicts(&self, probes: &[Probe]) -> Vec<Result<Verdict>> {
        let all: Vec<usize> = (0..probes.len()).collect();
        let mut out = self.run_batch(probes, &all);
        if self.confirm_drops {
            let dropped: Vec<usize> = all
                .into_iter()
                .filter(|&i| matches!(out[i], Ok(Verdict::Dropped)))
                .collect();
            if !dropped.is_empty() {
                for (i, v) in dropped.iter().zip(self.run_batch(probes, &dropped)) {
                    out[*i] = v;
                }
            }
        }
        out
    }

    /// Runs `probes[i]` for each i in `which`; results in the order of `which`.
    fn run_batch(&self, probes: &[Probe], which: &[usize]) -> Vec<Result<Verdict>> {
        let next = AtomicUsize::new(0);
        let threads = which.len().min(self.parallelism);
        let mut results: Vec<(usize, Result<Verdict>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, || {
                            let mut mine = Vec::new();
                            loop {
                                let k = next.fetch_add(1, Ordering::Relaxed);
                                let Some(&i) = which.get(k) else { break };
                                mine.push((k, self.run_one(&probes[i])));
                            }
                            mine
                        })
                        .expect("spawning a probe thread")
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("probe thread panicked"))
                .collect()
        });
        results.sort_by_key(|(k, _)| *k);
        results.into_iter().map(|(_, r)| r).collect()
    }

    fn run_one(&self, p: &Probe) -> Result<Verdict> {
        let fail = |reason: String| Error::Probe {
            probe: p.to_string(),
            reason,
        };
        let &src_idx = self
            .by_name
            .get(&p.from)
            .ok_or_else(|| fail(format!("no pod or node named {:?}", p.from)))?;
        let src_ep = &self.endpoints[src_idx];
        let src = match p.to {
            IpAddr::V4(_) => src_ep.v4.map(IpAddr::V4),
            IpAddr::V6(_) => src_ep.v6.map(IpAddr::V6),
        }
        .ok_or_else(|| {
            fail(format!(
                "{} has no address of the family of {}",
                p.from, p.to
            ))
        })?;
        let &dst_idx = self.by_addr.get(&p.to).ok_or_else(|| {
            fail(format!(
                "no pod or node of the topology has address {}",
                p.to
            ))
        })?;
        let dst_ep = &self.endpoints[dst_idx];
        let ports = match p.protocol {
            Protocol::Tcp => &dst_ep.ports.tcp,
            Protocol::Udp => &dst_ep.ports.udp,
            Protocol::Sctp => &dst_ep.ports.sctp,
        };
        if !ports.contains(&p.port) {
            return Err(fail(format!(
                "{} has no {} listener on port {} (add it to its spec)",
                dst_ep.name, p.protocol, p.port
            )));
        }
        let (dst, port) = p.via.unwrap_or((p.to, p.port));
        let ctx = probe::Ctx {
            worker: &self.workers[src_idx],
            src,
            dst,
            port,
            timeout: self.probe_timeout,
            board: &self.board,
        };
        probe::run(p.protocol, &ctx).map_err(|f| match f {
            probe::Failure::Harness(m) | probe::Failure::Rejected(m) => fail(m),
        })
    }
}

fn verdict_to_bool(p: &Probe, v: Result<Verdict>) -> Result<bool> {
    match v? {
        Verdict::Allowed => Ok(true),
        Verdict::Dropped => Ok(false),
        Verdict::Rejected(detail) => Err(Error::Rejected {
            probe: p.to_string(),
            detail,
        }),
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Sockets and threads inside a namespace keep it alive: stop them first.
        self.servers.clear();
        self.workers.clear();
        if std::env::var_os(KEEP_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            eprintln!(
                "netfence-netns: {KEEP_ENV} is set: keeping namespaces {}* (the next build \
                 by another process deletes them)",
                self.prefix
            );
            return;
        }
        if let Err(e) = ns::delete(&self.netns) {
            eprintln!("netfence-netns: deleting namespaces {}*: {e}", self.prefix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_name_the_right_interfaces() {
        let spec = TopologySpec {
            nodes: vec![
                NodeSpec {
                    pods: vec![PodSpec {
                        name: "d/a".into(),
                        v4: Some("10.0.0.2".parse().unwrap()),
                        v6: Some("fd00::2".parse().unwrap()),
                        ..Default::default()
                    }],
                    ..NodeSpec::new(
                        "n0",
                        "10.1.0.1".parse().unwrap(),
                        "fd01::1".parse().unwrap(),
                    )
                },
                NodeSpec::new(
                    "n1",
                    "10.1.0.2".parse().unwrap(),
                    "fd01::2".parse().unwrap(),
                ),
            ],
        };
        validate(&spec).unwrap();
        let b0 = node_batch(&spec, 0);
        assert!(b0.contains("route add 10.0.0.2/32 dev nfp0 src 10.1.0.1\n"));
        assert!(b0.contains("route add 10.1.0.2/32 via 169.254.254.2 dev nft1 src 10.1.0.1\n"));
        let b1 = node_batch(&spec, 1);
        assert!(b1.contains("route add fd00::2/128 via fe80::ff:1 dev nft0\n"));
        assert!(pod_batch(&spec.nodes[0].pods[0]).contains("route add ::/0 via fe80::1 dev eth0"));
    }

    #[test]
    fn topology_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Topology>();
        send_sync::<Error>();
    }

    #[test]
    fn validation_rejects_duplicates() {
        let mut spec = TopologySpec {
            nodes: vec![NodeSpec::new(
                "n0",
                "10.1.0.1".parse().unwrap(),
                "fd01::1".parse().unwrap(),
            )],
        };
        spec.nodes[0].pods.push(PodSpec {
            name: "d/a".into(),
            v4: Some("10.1.0.1".parse().unwrap()),
            ..Default::default()
        });
        assert!(matches!(validate(&spec), Err(Error::Spec(_))));
        spec.nodes[0].pods[0].v4 = None;
        assert!(matches!(validate(&spec), Err(Error::Spec(_))));
    }
}
