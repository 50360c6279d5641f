//! The network-policy-api conformance suites (both API versions, transcribed into
//! `testdata/tiers-conformance/`) through real packets: every step's rulesets brought
//! into each node's kernel the way the controller brings them (a delta from what the
//! node holds, a full replace only when a delta cannot express the change), then every
//! upstream assertion probed between network namespaces. The upstream assertions are
//! the expectations; the analyzer must agree with them too. Root.

mod common;

use common::lab::conformance::{base, files, replay, Expectation, Step};
use common::lab::Lab;
use netfence_analyzer::{reach, Flow, Party};
use netfence_model::{Family, Model, Protocol};
use netfence_netns::{Probe, Protocol as Wire, Verdict};
use netfence_nft::backend::{bring, Applied, Kept};
use netfence_nft::{render_ruleset, RenderOptions, Ruleset};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

/// One lab at a time (see kernel.rs: libnftables' select() and FD_SETSIZE).
fn one_lab_at_a_time() -> MutexGuard<'static, ()> {
    static LAB: Mutex<()> = Mutex::new(());
    LAB.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wire(p: Protocol) -> Wire {
    match p {
        Protocol::Tcp => Wire::Tcp,
        Protocol::Udp => Wire::Udp,
        Protocol::Sctp => Wire::Sctp,
    }
}

/// Every (protocol, port) a suite's assertions probe: what the lab listens on.
fn suite_ports(version: &str, base: &[serde_yaml::Value]) -> (Model, Vec<(Protocol, u16)>) {
    let mut ports = BTreeSet::new();
    let mut first: Option<Model> = None;
    for f in files(version) {
        replay(&f, base, |step| {
            ports.extend(step.expect.iter().map(|e| (e.protocol, e.port)));
            first.get_or_insert(step.model);
        });
    }
    (first.expect("a step"), ports.into_iter().collect())
}

/// The probe of an assertion: from the pod's namespace (a hostNetwork pod's is its
/// node's) to the destination pod's address (a hostNetwork pod's is its node's).
fn probe(lab: &Lab, model: &Model, e: &Expectation) -> Probe {
    let endpoint = |k: &str| {
        let id = model
            .cluster
            .endpoint_by_key(k)
            .unwrap_or_else(|| panic!("no pod {k}"));
        model.cluster.endpoint(id)
    };
    let (src, dst) = (endpoint(&e.from), endpoint(&e.to));
    let from = if lab.pods.contains_key(&e.from) {
        e.from.clone()
    } else {
        src.node.clone().expect("a hostNetwork pod names its node")
    };
    let to: IpAddr = *dst
        .addrs
        .iter()
        .find(|a| a.is_ipv4())
        .unwrap_or_else(|| panic!("{} has no IPv4 address", e.to));
    Probe::new(from, to, wire(e.protocol), e.port)
}

/// What one node's kernel holds, and the libnftables context that keeps it.
struct NodeKernel {
    name: String,
    kept: Kept,
    held: Option<Ruleset>,
}

#[derive(Default)]
struct Tally {
    steps: usize,
    probes: usize,
    allowed: usize,
    deltas: usize,
    full: usize,
}

fn run_step(lab: &Lab, kernels: &mut [NodeKernel], step: &Step, tally: &mut Tally) {
    let model = &step.model;
    for k in kernels.iter_mut() {
        let node = lab.nodes.iter().find(|n| n.name == k.name).expect("node");
        let opts = RenderOptions {
            counters: true,
            ..RenderOptions::default()
        };
        let next = render_ruleset(model, &lab.node_view(node), &opts).expect("render");
        match bring(&k.kept, k.held.as_ref(), &next) {
            Ok(Applied::Delta) => tally.deltas += 1,
            Ok(Applied::Full) => tally.full += 1,
            Ok(Applied::Nothing) => {}
            Err(e) => panic!("{}: bringing {} to the step: {e}", step.label, k.name),
        }
        k.held = Some(next);
        // Upstream asserts on new connections.
        lab.forget_connections(&k.name);
    }
    let probes: Vec<Probe> = step.expect.iter().map(|e| probe(lab, model, e)).collect();
    let verdicts = lab.topo.verdicts(&probes);
    let mut wrong = Vec::new();
    for ((e, p), v) in step.expect.iter().zip(&probes).zip(verdicts) {
        let kernel = match v {
            Ok(Verdict::Allowed) => true,
            Ok(Verdict::Dropped) => false,
            other => panic!("{}: probe {p} did not run cleanly: {other:?}", step.label),
        };
        let id = |k: &str| Party::Endpoint(model.cluster.endpoint_by_key(k).expect("pod"));
        let analyzer = reach(
            model,
            Flow {
                from: id(&e.from),
                to: id(&e.to),
                protocol: Some(e.protocol),
                port: Some(e.port),
                family: Some(Family::V4),
            },
        );
        if kernel != e.allowed || analyzer.allowed != e.allowed {
            wrong.push(format!(
                "{} -> {} {}/{} ({p}): upstream {}, kernel {}, analyzer {}",
                e.from, e.to, e.port, e.protocol, e.allowed, kernel, analyzer.allowed
            ));
        }
        tally.probes += 1;
        tally.allowed += usize::from(kernel);
    }
    assert!(
        wrong.is_empty(),
        "{}: {} of {} assertions fail:\n{}",
        step.label,
        wrong.len(),
        step.expect.len(),
        wrong.join("\n")
    );
    tally.steps += 1;
}

fn run_suite(version: &str) -> Tally {
    let _lab = one_lab_at_a_time();
    let base = base();
    let (first, ports) = suite_ports(version, &base);
    let lab = Lab::build(&first, &ports, &[]);
    let mut kernels: Vec<NodeKernel> = lab
        .nodes
        .iter()
        .map(|n| NodeKernel {
            name: n.name.clone(),
            kept: Kept::start(lab.topo.netns(&n.name)).expect("libnftables in the node"),
            held: None,
        })
        .collect();
    let mut tally = Tally::default();
    // One lab for the whole suite, the kernels carried from file to file: a file's
    // first step is a delta from the last one's state as well.
    for f in files(version) {
        replay(&f, &base, |step| {
            run_step(&lab, &mut kernels, &step, &mut tally)
        });
    }
    eprintln!(
        "{version}: {} steps, {} assertions probed ({} allowed), {} deltas, {} full replaces",
        tally.steps, tally.probes, tally.allowed, tally.deltas, tally.full
    );
    tally
}

fn assert_covers(t: &Tally) {
    assert!(t.steps >= 50 && t.probes >= 200, "{} steps", t.steps);
    assert!(
        t.allowed > 0 && t.allowed < t.probes,
        "the probes must see both verdicts"
    );
    // The first step of the run loads each node; what follows is a delta unless a
    // change adds or removes a tier (its dispatch maps) or a set changes type.
    assert!(
        t.deltas > t.full,
        "{} deltas, {} full replaces",
        t.deltas,
        t.full
    );
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn v1alpha2_conformance_in_the_kernel() {
    assert_covers(&run_suite("v1alpha2"));
}

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn v1alpha1_conformance_in_the_kernel() {
    assert_covers(&run_suite("v1alpha1"));
}
