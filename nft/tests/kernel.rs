//! The ruleset in a real kernel. Nodes and pods are network namespaces (netfence-netns);
//! every node loads only its own ruleset; real TCP, UDP and SCTP packets are sent
//! between every ordered pair of pods, from every node to every pod and from every pod
//! to every node, over IPv4 and IPv6; each verdict must equal the analyzer's.
//!
//! Needs root (CI runs as root); these tests fail rather than skip without it.

mod common;

use common::lab::{declared_ports, Lab};
use netfence_model::{compile_text, Model, Protocol};
use netfence_nft::RenderOptions;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn model(text: &str) -> Model {
    compile_text("t.yaml", text, "default").unwrap_or_else(|e| panic!("{e:?}"))
}

const E2E_PORTS: [(Protocol, u16); 6] = [
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 81),
    (Protocol::Udp, 80),
    (Protocol::Udp, 81),
    (Protocol::Sctp, 80),
    (Protocol::Sctp, 81),
];

/// The upstream e2e model (x, y, z / a, b, c, two nodes) under every scenario.
#[test]
fn e2e_scenarios_agree_with_the_analyzer() {
    let base = read(&testdata().join("e2e/model.yaml"));
    let lab = Lab::build(&model(&base), &E2E_PORTS, &[]);
    let mut dir: Vec<PathBuf> = std::fs::read_dir(testdata().join("e2e/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    assert!(dir.len() >= 30, "scenarios missing");
    let mut cross_node_denials = 0;
    let (a, d) = lab.assert_agrees(&model(&base), "no policy");
    assert_eq!(d, 0, "without policies everything is allowed");
    assert!(a > 0);
    for path in dir {
        let text = format!("{base}\n---\n{}", read(&path));
        let m = model(&text);
        lab.load_full(&m, &RenderOptions::default());
        let label = path.file_stem().unwrap().to_string_lossy().to_string();
        let (_, denied) = lab.assert_agrees(&m, &label);
        if label == "default-deny-all" {
            // x/a and x/b run on node-1, x/c on node-2: cross-node flows are denied too.
            cross_node_denials += denied;
        }
    }
    assert!(cross_node_denials > 0);
}

/// Every scenario of testdata/ that has pods with addresses.
#[test]
fn testdata_scenarios_agree_with_the_analyzer() {
    for (label, files) in [
        ("demo", vec!["demo"]),
        ("bad/good", vec!["bad/good.yaml"]),
        ("wide", vec!["wide"]),
    ] {
        let mut text = String::new();
        for f in files {
            let p = testdata().join(f);
            let paths: Vec<PathBuf> = if p.is_dir() {
                let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect();
                v.sort();
                v
            } else {
                vec![p]
            };
            for p in paths {
                text.push_str(&read(&p));
                text.push_str("\n---\n");
            }
        }
        let m = model(&text);
        let ports = declared_ports(&m, &[(Protocol::Tcp, 80)], 6);
        let lab = Lab::build(&m, &ports, &[]);
        lab.load_full(
            &m,
            &RenderOptions {
                counters: true,
                log_group: None,
            },
        );
        // Forget every neighbour: isolated IPv6 pods must rediscover them through the
        // ruleset (neighbour discovery is accepted before any policy).
        for node in &lab.nodes {
            lab.topo
                .exec(&node.name, &["ip", "-6", "neigh", "flush", "all"])
                .unwrap();
        }
        lab.assert_agrees(&m, label);
    }
}

/// Random clusters from the generator: a seeded batch per run.
#[test]
fn random_scenarios_agree_with_the_analyzer() {
    let start: u64 = std::env::var("NETFENCE_KERNEL_SEED_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let count: u64 = std::env::var("NETFENCE_KERNEL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for seed in start..start + count {
        let mut cfg = netfence_synth::SynthConfig::small(seed);
        cfg.dual_stack = seed % 2 == 0;
        let text = netfence_synth::generate(&cfg);
        let m = model(&text);
        let ports = declared_ports(&m, &[(Protocol::Udp, 53), (Protocol::Sctp, 9000)], 7);
        let lab = Lab::build(&m, &ports, &[]);
        lab.load_full(&m, &RenderOptions::default());
        lab.assert_agrees(&m, &format!("synth seed {seed}"));
    }
}
