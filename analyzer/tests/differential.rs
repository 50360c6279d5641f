//! Differential test: `reach()` and `Matrix::compute` against a deliberately naive
//! evaluator of the NetworkPolicy v1 API semantics, over clusters drawn by `netfence-synth`.
//!
//! The naive evaluator below reads the generated YAML itself (`serde_yaml::Value`, not the
//! model's parser), and answers one (source, destination, protocol, port) question at a
//! time by walking every policy of the cluster, exactly as the API reference words it: no
//! compilation, no bitsets, no unions, no caches. It shares no code with the model, so a
//! disagreement is a bug in one of them (see /work/shared/semantics.md for the rules).
//!
//! Where the API reference is silent, the evaluator takes netfence's documented choices
//! (/work/shared/semantics.md): a hostNetwork pod is its node (never isolated, never picked
//! by a selector, no named port resolves on it, matched by ipBlocks through its node's
//! address, and its traffic to pods of its own node is node-local); an endpoint whose
//! address is not known yet (a Pending pod, a Deployment owning no pod of the input) is
//! matched only by an ipBlock holding its whole address family.
//!
//! Checked for every seed: every ordered pair of endpoints against every matrix column
//! (numeric ports and named ports over TCP/UDP/SCTP) and against `reach()` for the same
//! ports (named ones resolved on the destination), for "any port of a protocol" and "any
//! port at all"; and `reach()` between every endpoint and addresses outside the pods (each
//! node, addresses in and outside the pod range), both ways.
//!
//! Seeds: `NETFENCE_DIFF_SEED_START` (default 1) and `NETFENCE_DIFF_SEEDS` (default 300).
//! A failure prints the seed, the pair, the port, both verdicts and the model's explanation,
//! writes the cluster to the temp dir, and says how to rerun just that seed.

use netfence_analyzer::{explain, reach, Flow, Matrix, MatrixPort, Party};
use netfence_model::ports::PortRef;
use netfence_model::{parse_manifest, Cluster, EndpointId, Model, Protocol};
use netfence_synth::{generate, SynthConfig};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

// =====================================================================================
// The naive evaluator
// =====================================================================================

type Labels = BTreeMap<String, String>;

/// A label selector as written: matchLabels AND every matchExpression.
#[derive(Debug, Clone, Default)]
struct Sel {
    labels: Vec<(String, String)>,
    exprs: Vec<(String, String, Vec<String>)>,
}

impl Sel {
    fn parse(v: &Value) -> Sel {
        let mut s = Sel::default();
        if let Some(m) = v.get("matchLabels").and_then(Value::as_mapping) {
            for (k, val) in m {
                s.labels.push((str_of(k), str_of(val)));
            }
        }
        if let Some(seq) = v.get("matchExpressions").and_then(Value::as_sequence) {
            for e in seq {
                let values = e
                    .get("values")
                    .and_then(Value::as_sequence)
                    .map(|vs| vs.iter().map(str_of).collect())
                    .unwrap_or_default();
                s.exprs
                    .push((str_of(&e["key"]), str_of(&e["operator"]), values));
            }
        }
        s
    }

    /// The API reference: NotIn and DoesNotExist hold when the key is absent, In and
    /// Exists do not; an empty selector matches everything.
    fn matches(&self, l: &Labels) -> bool {
        self.labels.iter().all(|(k, v)| l.get(k) == Some(v))
            && self.exprs.iter().all(|(k, op, vals)| match op.as_str() {
                "In" => l.get(k).is_some_and(|x| vals.contains(x)),
                "NotIn" => l.get(k).is_none_or(|x| !vals.contains(x)),
                "Exists" => l.contains_key(k),
                "DoesNotExist" => !l.contains_key(k),
                other => panic!("unknown operator {other}"),
            })
    }
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn labels_of(v: &Value) -> Labels {
    v.as_mapping()
        .map(|m| m.iter().map(|(k, v)| (str_of(k), str_of(v))).collect())
        .unwrap_or_default()
}

type Cidr = (IpAddr, u8);

fn parse_cidr(s: &str) -> Cidr {
    let (a, l) = s.split_once('/').expect("cidr");
    (
        a.parse().expect("cidr address"),
        l.parse().expect("cidr prefix"),
    )
}

/// Same family and the first `len` bits equal.
fn in_cidr(a: &IpAddr, (net, len): &Cidr) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            *len == 0 || (u32::from(*a) >> (32 - len)) == (u32::from(*n) >> (32 - len))
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            *len == 0 || (u128::from(*a) >> (128 - len)) == (u128::from(*n) >> (128 - len))
        }
        _ => false,
    }
}

#[derive(Debug)]
enum NPeer {
    Block {
        cidr: Cidr,
        except: Vec<Cidr>,
    },
    /// `ns: None`: the policy's namespace; `pod: None`: every pod of those namespaces.
    Selectors {
        ns: Option<Sel>,
        pod: Option<Sel>,
    },
}

#[derive(Debug)]
enum NPortVal {
    Num(u16),
    Name(String),
}

#[derive(Debug)]
struct NPort {
    proto: String,
    port: Option<NPortVal>,
    end: Option<u16>,
}

#[derive(Debug)]
struct NRule {
    /// Empty: absent or empty from/to, every peer.
    peers: Vec<NPeer>,
    /// Empty: absent or empty ports, every port of every protocol.
    ports: Vec<NPort>,
}

#[derive(Debug)]
struct NPolicy {
    ns: String,
    pod_sel: Sel,
    /// None when Ingress is not among the effective policyTypes.
    ingress: Option<Vec<NRule>>,
    egress: Option<Vec<NRule>>,
}

#[derive(Debug, Clone)]
struct NEndpoint {
    /// `ns/name`, or `ns/deploy/name` for a Deployment that owns no pod of the input.
    key: String,
    ns: String,
    labels: Labels,
    /// (name, number, protocol)
    ports: Vec<(Option<String>, u16, String)>,
    host_network: bool,
    node: Option<String>,
    /// Empty: not known (Pending pod, Deployment template).
    addrs: Vec<IpAddr>,
    /// The node's addresses (status.hostIP / hostIPs).
    host_ips: Vec<IpAddr>,
    /// An address outside the cluster's pods (a node, the internet): no policy applies to
    /// it, no selector picks it, no named port resolves on it.
    external: bool,
}

impl NEndpoint {
    fn named_port(&self, name: &str, proto: &str) -> Option<u16> {
        self.ports
            .iter()
            .find(|(n, _, p)| n.as_deref() == Some(name) && p == proto)
            .map(|(_, num, _)| *num)
    }
}

struct World {
    namespaces: BTreeMap<String, Labels>,
    endpoints: Vec<NEndpoint>,
    policies: Vec<NPolicy>,
}

fn container_ports(spec: &Value) -> Vec<(Option<String>, u16, String)> {
    let mut out = Vec::new();
    for c in spec["containers"].as_sequence().into_iter().flatten() {
        for p in c["ports"].as_sequence().into_iter().flatten() {
            out.push((
                p["name"].as_str().map(String::from),
                p["containerPort"].as_u64().expect("containerPort") as u16,
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
            ));
        }
    }
    out
}

fn rules(list: &Value, peer_key: &str) -> Vec<NRule> {
    list.as_sequence()
        .into_iter()
        .flatten()
        .map(|r| NRule {
            peers: r[peer_key]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|p| match p.get("ipBlock") {
                    Some(b) => NPeer::Block {
                        cidr: parse_cidr(b["cidr"].as_str().expect("cidr")),
                        except: b["except"]
                            .as_sequence()
                            .into_iter()
                            .flatten()
                            .map(|e| parse_cidr(e.as_str().expect("except")))
                            .collect(),
                    },
                    None => NPeer::Selectors {
                        ns: p.get("namespaceSelector").map(Sel::parse),
                        pod: p.get("podSelector").map(Sel::parse),
                    },
                })
                .collect(),
            ports: r["ports"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|p| NPort {
                    proto: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                    port: match &p["port"] {
                        Value::Null => None,
                        Value::Number(n) => Some(NPortVal::Num(n.as_u64().unwrap() as u16)),
                        Value::String(s) => Some(NPortVal::Name(s.clone())),
                        other => panic!("port {other:?}"),
                    },
                    end: p["endPort"].as_u64().map(|e| e as u16),
                })
                .collect(),
        })
        .collect()
}

fn world(text: &str) -> World {
    let mut namespaces = BTreeMap::new();
    let mut pods = Vec::new();
    let mut deployments = Vec::new();
    let mut policies = Vec::new();
    for doc in text.split("\n---\n") {
        let v: Value = serde_yaml::from_str(doc).expect("yaml");
        if v.is_null() {
            continue;
        }
        let meta = &v["metadata"];
        let name = meta["name"].as_str().expect("name").to_string();
        let ns = meta["namespace"].as_str().unwrap_or("default").to_string();
        match v["kind"].as_str().expect("kind") {
            "Namespace" => {
                let mut labels = labels_of(&meta["labels"]);
                // The API server sets this label on every namespace.
                labels.insert("kubernetes.io/metadata.name".into(), name.clone());
                namespaces.insert(name, labels);
            }
            "Pod" => {
                let status = &v["status"];
                if matches!(status["phase"].as_str(), Some("Succeeded" | "Failed")) {
                    continue;
                }
                let mut addrs: Vec<IpAddr> = status["podIPs"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|p| p["ip"].as_str().unwrap().parse().unwrap())
                    .collect();
                if addrs.is_empty() {
                    addrs.extend(
                        status["podIP"]
                            .as_str()
                            .map(|a| a.parse::<IpAddr>().unwrap()),
                    );
                }
                let mut host_ips: Vec<IpAddr> = status["hostIPs"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|p| p["ip"].as_str().unwrap().parse().unwrap())
                    .collect();
                if host_ips.is_empty() {
                    host_ips.extend(
                        status["hostIP"]
                            .as_str()
                            .map(|a| a.parse::<IpAddr>().unwrap()),
                    );
                }
                pods.push(NEndpoint {
                    key: format!("{ns}/{name}"),
                    ns,
                    labels: labels_of(&meta["labels"]),
                    ports: container_ports(&v["spec"]),
                    host_network: v["spec"]["hostNetwork"].as_bool().unwrap_or(false),
                    node: v["spec"]["nodeName"].as_str().map(String::from),
                    addrs,
                    host_ips,
                    external: false,
                });
            }
            "Deployment" => {
                let spec = &v["spec"];
                deployments.push((
                    Sel::parse(&spec["selector"]),
                    NEndpoint {
                        key: format!("{ns}/deploy/{name}"),
                        ns,
                        labels: labels_of(&spec["template"]["metadata"]["labels"]),
                        ports: container_ports(&spec["template"]["spec"]),
                        host_network: false,
                        node: None,
                        addrs: Vec::new(),
                        host_ips: Vec::new(),
                        external: false,
                    },
                ));
            }
            "NetworkPolicy" => {
                let spec = &v["spec"];
                let declared = spec["policyTypes"]
                    .as_sequence()
                    .filter(|t| !t.is_empty())
                    .map(|t| t.iter().map(str_of).collect::<Vec<_>>());
                // Defaulting: Ingress always; Egress only when the egress list is non-empty.
                let (ing, eg) = match declared {
                    Some(t) => (
                        t.iter().any(|x| x == "Ingress"),
                        t.iter().any(|x| x == "Egress"),
                    ),
                    None => (
                        true,
                        spec["egress"].as_sequence().is_some_and(|s| !s.is_empty()),
                    ),
                };
                policies.push(NPolicy {
                    ns,
                    pod_sel: Sel::parse(&spec["podSelector"]),
                    ingress: ing.then(|| rules(&spec["ingress"], "from")),
                    egress: eg.then(|| rules(&spec["egress"], "to")),
                });
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    // A Deployment that owns no pod of the input stands for the pods it will create.
    let mut endpoints = pods.clone();
    for (sel, d) in deployments {
        if !pods.iter().any(|p| p.ns == d.ns && sel.matches(&p.labels)) {
            endpoints.push(d);
        }
    }
    World {
        namespaces,
        endpoints,
        policies,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fam {
    V4,
    V6,
}

fn fam_of(a: &IpAddr) -> Fam {
    if a.is_ipv4() {
        Fam::V4
    } else {
        Fam::V6
    }
}

fn peer_ok(w: &World, peers: &[NPeer], other: &NEndpoint, pol_ns: &str, fam: Fam) -> bool {
    peers.is_empty()
        || peers.iter().any(|p| match p {
            NPeer::Block { cidr, except } => {
                if other.addrs.is_empty() {
                    // An address not known yet could be any: only a block of the whole
                    // family is sure to hold it.
                    cidr.1 == 0 && fam_of(&cidr.0) == fam && except.is_empty()
                } else {
                    other.addrs.iter().any(|a| {
                        fam_of(a) == fam
                            && in_cidr(a, cidr)
                            && !except.iter().any(|e| in_cidr(a, e))
                    })
                }
            }
            // Selectors only pick pod-network pods (a hostNetwork pod is its node).
            NPeer::Selectors { ns, pod } => {
                !other.host_network
                    && !other.external
                    && match ns {
                        None => other.ns == pol_ns,
                        Some(s) => s.matches(&w.namespaces[&other.ns]),
                    }
                    && pod.as_ref().is_none_or(|s| s.matches(&other.labels))
            }
        })
}

/// Named ports resolve on the destination pod, for ingress and egress rules alike. A
/// hostNetwork pod is its node, not a pod: like any other non-pod address, no named port
/// matches it.
fn port_ok(ports: &[NPort], dst: &NEndpoint, proto: &str, port: u16) -> bool {
    ports.is_empty()
        || ports.iter().any(|p| {
            p.proto == proto
                && match &p.port {
                    None => true,
                    Some(NPortVal::Num(n)) => *n <= port && port <= p.end.unwrap_or(*n),
                    Some(NPortVal::Name(name)) => {
                        !dst.host_network
                            && !dst.external
                            && dst.named_port(name, proto) == Some(port)
                    }
                }
        })
}

fn egress_ok(
    w: &World,
    src: &NEndpoint,
    dst: &NEndpoint,
    fam: Fam,
    proto: &str,
    port: u16,
) -> bool {
    if src.host_network || src.external {
        return true;
    }
    let selecting: Vec<&NPolicy> = w
        .policies
        .iter()
        .filter(|p| p.ns == src.ns && p.egress.is_some() && p.pod_sel.matches(&src.labels))
        .collect();
    selecting.is_empty()
        || selecting.iter().any(|p| {
            p.egress.as_ref().unwrap().iter().any(|r| {
                peer_ok(w, &r.peers, dst, &p.ns, fam) && port_ok(&r.ports, dst, proto, port)
            })
        })
}

fn ingress_ok(
    w: &World,
    dst: &NEndpoint,
    src: &NEndpoint,
    fam: Fam,
    proto: &str,
    port: u16,
) -> bool {
    if dst.host_network || dst.external {
        return true;
    }
    // From the destination's own node (a hostNetwork pod there, or its address).
    if src.host_network && src.node.is_some() && src.node == dst.node {
        return true;
    }
    if src.external && src.addrs.iter().any(|a| dst.host_ips.contains(a)) {
        return true;
    }
    let selecting: Vec<&NPolicy> = w
        .policies
        .iter()
        .filter(|p| p.ns == dst.ns && p.ingress.is_some() && p.pod_sel.matches(&dst.labels))
        .collect();
    selecting.is_empty()
        || selecting.iter().any(|p| {
            p.ingress.as_ref().unwrap().iter().any(|r| {
                peer_ok(w, &r.peers, src, &p.ns, fam) && port_ok(&r.ports, dst, proto, port)
            })
        })
}

/// Address families the connection can use.
fn families(a: &NEndpoint, b: &NEndpoint) -> Vec<Fam> {
    let fams = |e: &NEndpoint| -> Option<Vec<Fam>> {
        (!e.addrs.is_empty()).then(|| e.addrs.iter().map(fam_of).collect())
    };
    match (fams(a), fams(b)) {
        (Some(x), Some(y)) => [Fam::V4, Fam::V6]
            .into_iter()
            .filter(|f| x.contains(f) && y.contains(f))
            .collect(),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => vec![Fam::V4, Fam::V6],
    }
}

/// Can `src` open a connection to `dst` on `port`/`proto`?
fn naive(w: &World, s: usize, d: usize, proto: &str, port: u16) -> bool {
    s == d || naive_between(w, &w.endpoints[s], &w.endpoints[d], proto, port)
}

/// The same question between two different parties (pods, templates or addresses).
fn naive_between(w: &World, src: &NEndpoint, dst: &NEndpoint, proto: &str, port: u16) -> bool {
    families(src, dst)
        .into_iter()
        .any(|f| egress_ok(w, src, dst, f, proto, port) && ingress_ok(w, dst, src, f, proto, port))
}

/// Is some port of `proto` open from `s` to `d`? Each direction allows a union of port
/// ranges starting at 0, at a rule's port, or at a port of the destination; if the two
/// unions meet, they meet at one of those starts.
fn naive_any_port(w: &World, s: usize, d: usize, proto: &str) -> bool {
    let mut candidates: BTreeSet<u16> = BTreeSet::from([0]);
    for p in &w.policies {
        for rules in [&p.ingress, &p.egress].into_iter().flatten() {
            for r in rules {
                for port in &r.ports {
                    if let Some(NPortVal::Num(n)) = port.port {
                        candidates.insert(n);
                    }
                }
            }
        }
    }
    candidates.extend(w.endpoints[d].ports.iter().map(|(_, n, _)| *n));
    candidates
        .into_iter()
        .any(|port| naive(w, s, d, proto, port))
}

// =====================================================================================
// The comparison
// =====================================================================================

const NUMERIC: &[(Protocol, u16)] = &[
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 443),
    (Protocol::Tcp, 8080),
    (Protocol::Tcp, 5432),
    (Protocol::Tcp, 9090),
    (Protocol::Tcp, 53),
    (Protocol::Udp, 53),
    (Protocol::Udp, 8125),
    (Protocol::Sctp, 3868),
    (Protocol::Tcp, 3000),
    (Protocol::Udp, 4000),
    (Protocol::Tcp, 65535),
];

/// Ports asked between pods and addresses outside the pods (reach only).
const EXTERNAL_PORTS: &[(Protocol, u16)] = &[
    (Protocol::Tcp, 80),
    (Protocol::Udp, 53),
    (Protocol::Tcp, 9090),
    (Protocol::Sctp, 3868),
];

const NAMED: &[(&str, Protocol)] = &[
    ("http", Protocol::Tcp),
    ("https", Protocol::Tcp),
    ("metrics", Protocol::Tcp),
    ("metrics", Protocol::Udp),
    ("dns", Protocol::Udp),
    ("dns", Protocol::Tcp),
    ("db", Protocol::Tcp),
    ("grpc", Protocol::Tcp),
    ("diameter", Protocol::Sctp),
    ("admin", Protocol::Tcp),
];

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[derive(Default)]
struct Stats {
    seeds: u64,
    endpoints: usize,
    pairs: usize,
    matrix_checks: usize,
    reach_checks: usize,
    /// Numeric and named questions the naive evaluator answered ALLOWED (self excluded).
    allowed: usize,
    denied: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.seeds += o.seeds;
        self.endpoints += o.endpoints;
        self.pairs += o.pairs;
        self.matrix_checks += o.matrix_checks;
        self.reach_checks += o.reach_checks;
        self.allowed += o.allowed;
        self.denied += o.denied;
    }
}

struct Case<'a> {
    seed: u64,
    model: &'a Model,
    w: &'a World,
    ids: &'a [EndpointId],
    /// Every disagreement counts; the first few are described.
    mismatches: usize,
    failures: &'a mut Vec<String>,
}

impl Case<'_> {
    fn fail(
        &mut self,
        s: usize,
        d: usize,
        what: &str,
        naive: bool,
        model: bool,
        flow: Option<Flow>,
    ) {
        let w = self.w;
        self.fail_keys(
            &w.endpoints[s].key,
            &w.endpoints[d].key,
            what,
            naive,
            model,
            flow,
        );
    }

    fn fail_keys(
        &mut self,
        src: &str,
        dst: &str,
        what: &str,
        naive: bool,
        model: bool,
        flow: Option<Flow>,
    ) {
        self.mismatches += 1;
        if self.failures.len() >= 5 {
            return;
        }
        let explained = flow
            .map(|f| explain::render(self.model, &reach(self.model, f)))
            .unwrap_or_else(|| "(no flow to explain)\n".into());
        self.failures.push(format!(
            "seed {seed}: {src} -> {dst} on {what}: naive says {}, model says {}\n\
             rerun: NETFENCE_DIFF_SEED_START={seed} NETFENCE_DIFF_SEEDS=1 cargo test -p netfence-analyzer --test differential\n\
             explain:\n{explained}",
            verdict(naive),
            verdict(model),
            seed = self.seed,
        ));
    }
}

fn verdict(b: bool) -> &'static str {
    if b {
        "ALLOWED"
    } else {
        "DENIED"
    }
}

fn flow(
    ids: &[EndpointId],
    s: usize,
    d: usize,
    protocol: Option<Protocol>,
    port: Option<u16>,
) -> Flow {
    Flow {
        from: Party::Endpoint(ids[s]),
        to: Party::Endpoint(ids[d]),
        protocol,
        port,
        family: None,
    }
}

/// Checks one seed; returns the number of disagreements.
fn check_seed(seed: u64, stats: &mut Stats, failures: &mut Vec<String>) -> usize {
    let cfg = SynthConfig::small(seed);
    let text = generate(&cfg);
    let parsed = parse_manifest("synth.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "seed {seed}: {:?}", parsed.errors);
    let model = Model::compile(Cluster::build(parsed.objects));
    let w = world(&text);

    let ids: Vec<EndpointId> = w
        .endpoints
        .iter()
        .map(|e| {
            model
                .cluster
                .endpoint_by_key(&e.key)
                .unwrap_or_else(|| panic!("seed {seed}: the model has no endpoint {}", e.key))
        })
        .collect();
    assert_eq!(
        ids.len(),
        model.cluster.endpoints.len(),
        "seed {seed}: endpoint sets differ"
    );

    let mut columns: Vec<MatrixPort> = NUMERIC
        .iter()
        .map(|&(protocol, p)| MatrixPort {
            port: PortRef::Number(p),
            protocol,
        })
        .collect();
    columns.extend(NAMED.iter().map(|&(name, protocol)| MatrixPort {
        port: PortRef::Name(name.to_string()),
        protocol,
    }));
    let matrix = Matrix::compute(&model, &columns);

    let mut case = Case {
        seed,
        model: &model,
        w: &w,
        ids: &ids,
        mismatches: 0,
        failures,
    };
    let n = w.endpoints.len();
    for s in 0..n {
        for d in 0..n {
            let (si, di) = (ids[s].index(), ids[d].index());
            for (c, &(protocol, port)) in NUMERIC.iter().enumerate() {
                let expect = naive(&w, s, d, protocol.as_str(), port);
                if s != d {
                    *if expect {
                        &mut stats.allowed
                    } else {
                        &mut stats.denied
                    } += 1;
                }
                let f = flow(case.ids, s, d, Some(protocol), Some(port));
                let m = matrix.allowed(c, si, di);
                if m != expect {
                    case.fail(
                        s,
                        d,
                        &format!("matrix column {port}/{protocol}"),
                        expect,
                        m,
                        Some(f),
                    );
                }
                let r = reach(&model, f).allowed;
                if r != expect {
                    case.fail(
                        s,
                        d,
                        &format!("reach {port}/{protocol}"),
                        expect,
                        r,
                        Some(f),
                    );
                }
                stats.matrix_checks += 1;
                stats.reach_checks += 1;
            }
            for (k, &(name, protocol)) in NAMED.iter().enumerate() {
                let c = NUMERIC.len() + k;
                let resolved = w.endpoints[d].named_port(name, protocol.as_str());
                let expect = match resolved {
                    _ if s == d => true,
                    Some(port) => naive(&w, s, d, protocol.as_str(), port),
                    None => false,
                };
                let f = resolved.map(|port| flow(case.ids, s, d, Some(protocol), Some(port)));
                let m = matrix.allowed(c, si, di);
                if m != expect {
                    case.fail(
                        s,
                        d,
                        &format!("matrix column {name}/{protocol}"),
                        expect,
                        m,
                        f,
                    );
                }
                stats.matrix_checks += 1;
                // reach takes numbers; the named question is the resolved number.
                if let Some(f) = f {
                    let r = reach(&model, f).allowed;
                    if r != expect {
                        case.fail(
                            s,
                            d,
                            &format!("reach {name}/{protocol} (resolved)"),
                            expect,
                            r,
                            Some(f),
                        );
                    }
                    stats.reach_checks += 1;
                }
            }
            let mut any = false;
            for protocol in Protocol::ALL {
                let expect = naive_any_port(&w, s, d, protocol.as_str());
                any |= expect;
                let f = flow(case.ids, s, d, Some(protocol), None);
                let r = reach(&model, f).allowed;
                if r != expect {
                    case.fail(
                        s,
                        d,
                        &format!("reach any {protocol} port"),
                        expect,
                        r,
                        Some(f),
                    );
                }
                stats.reach_checks += 1;
            }
            let f = flow(case.ids, s, d, None, None);
            let r = reach(&model, f).allowed;
            if r != any {
                case.fail(s, d, "reach any port of any protocol", any, r, Some(f));
            }
            stats.reach_checks += 1;
        }
    }

    // Addresses that are not pods: every node, and places in and outside the pod range.
    let mut external: BTreeSet<IpAddr> = w
        .endpoints
        .iter()
        .flat_map(|e| e.host_ips.iter().copied())
        .collect();
    let mut others = vec!["192.0.2.10", "8.8.8.8", "10.128.0.250", "172.16.255.1"];
    if w.endpoints
        .iter()
        .any(|e| e.addrs.iter().any(IpAddr::is_ipv6))
    {
        others.extend(["2001:db8::1", "fd00:10::ffff", "fd00:1::ffff"]);
    }
    external.extend(others.iter().map(|a| a.parse::<IpAddr>().unwrap()));
    external.retain(|a| {
        !w.endpoints
            .iter()
            .any(|e| !e.host_network && e.addrs.contains(a))
    });
    for addr in external {
        let x = NEndpoint {
            key: addr.to_string(),
            ns: String::new(),
            labels: Labels::new(),
            ports: Vec::new(),
            host_network: false,
            node: None,
            addrs: vec![addr],
            host_ips: Vec::new(),
            external: true,
        };
        let party = Party::External(ipnet::IpNet::from(addr));
        for (i, e) in w.endpoints.iter().enumerate() {
            let pod = Party::Endpoint(ids[i]);
            for &(protocol, port) in EXTERNAL_PORTS {
                for (from, to, src, dst) in [(pod, party, e, &x), (party, pod, &x, e)] {
                    let expect = naive_between(&w, src, dst, protocol.as_str(), port);
                    let f = Flow {
                        from,
                        to,
                        protocol: Some(protocol),
                        port: Some(port),
                        family: None,
                    };
                    let r = reach(&model, f).allowed;
                    if r != expect {
                        let what = format!("reach {port}/{protocol}");
                        case.fail_keys(&src.key, &dst.key, &what, expect, r, Some(f));
                    }
                    stats.reach_checks += 1;
                }
            }
        }
    }

    let mismatches = case.mismatches;
    if mismatches > 0 {
        let path = std::env::temp_dir().join(format!("netfence-diff-{seed}.yaml"));
        if std::fs::write(&path, &text).is_ok() {
            eprintln!(
                "seed {seed}: {mismatches} disagreement(s); cluster written to {}",
                path.display()
            );
        }
    }
    stats.seeds += 1;
    stats.endpoints += n;
    stats.pairs += n * n;
    mismatches
}

#[test]
fn reach_and_matrix_agree_with_the_naive_evaluator() {
    let start = env_u64("NETFENCE_DIFF_SEED_START", 1);
    let count = env_u64("NETFENCE_DIFF_SEEDS", 300);
    let seeds: Vec<u64> = (start..start + count).collect();
    let t = std::time::Instant::now();
    // Seeds are independent: spread them over the cores (two on CI), results kept in seed
    // order so that the report does not depend on scheduling.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut results: Vec<(u64, Stats, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|k| {
                let seeds = &seeds;
                scope.spawn(move || {
                    seeds
                        .iter()
                        .skip(k)
                        .step_by(workers)
                        .map(|&seed| {
                            let mut stats = Stats::default();
                            let mut failures = Vec::new();
                            let m = check_seed(seed, &mut stats, &mut failures);
                            (seed, stats, m, failures)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    results.sort_by_key(|r| r.0);
    let mut total = Stats::default();
    let mut mismatches = 0;
    let mut bad_seeds = Vec::new();
    let mut failures = Vec::new();
    for (seed, stats, m, f) in results {
        total.add(&stats);
        if m > 0 {
            mismatches += m;
            bad_seeds.push(seed);
            if failures.len() < 5 {
                failures.extend(f);
            }
        }
    }
    eprintln!(
        "differential: seeds {start}..{}: {} endpoints, {} ordered pairs, {} matrix checks, {} reach checks \
         (numeric questions: {} allowed, {} denied) in {:.1?} on {workers} thread(s)",
        start + count,
        total.endpoints,
        total.pairs,
        total.matrix_checks,
        total.reach_checks,
        total.allowed,
        total.denied,
        t.elapsed()
    );
    assert_eq!(total.seeds, count);
    assert!(
        mismatches == 0,
        "{mismatches} disagreement(s) with the naive evaluator, seeds {bad_seeds:?} (first ones shown):\n\n{}",
        failures.join("\n")
    );
}

/// The generator really produces every shape the naive evaluator is meant to judge.
#[test]
fn generated_clusters_cover_the_shapes() {
    let mut text = String::new();
    for seed in 1..60 {
        text.push_str(&generate(&SynthConfig::small(seed)));
    }
    for needle in [
        "podSelector: {}",
        "namespaceSelector: {}",
        "operator: In,",
        "operator: NotIn,",
        "operator: Exists}",
        "operator: DoesNotExist}",
        "policyTypes: [Ingress]",
        "policyTypes: [Egress]",
        "policyTypes: [Ingress, Egress]",
        "policyTypes: []",
        "ingress: []",
        "egress: []",
        "  - {}",
        "from: []",
        "to: []",
        "ports: []",
        "except:",
        "endPort:",
        "{protocol: SCTP}",
        "{protocol: UDP}",
        "port: \"http\"",
        "hostNetwork: true",
        "podIPs:",
        "phase: Pending",
        "phase: Succeeded",
        "kind: Deployment",
        "fd00:10::/32",
    ] {
        assert!(text.contains(needle), "no generated cluster has {needle:?}");
    }
}
