//! The network-policy-api conformance suites (v1alpha2 ClusterNetworkPolicy and the
//! v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy of the last v0.1.x
//! release), transcribed into `testdata/tiers-conformance/` (provenance and licence in
//! its README), checked through the analyzer step by step: policy patches, relabels and
//! deletions applied in order, every upstream assertion the expectation.

use netfence_analyzer::{reach, Flow, Party};
use netfence_model::{parse_manifest, Cluster, Family, Model, Protocol};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/tiers-conformance")
}

/// kind / namespace / name of an object value.
fn key(v: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&v["kind"]),
        s(&v["metadata"]["namespace"]),
        s(&v["metadata"]["name"]),
    )
}

/// The objects of a YAML text, `kind: List` items included.
/// kind / namespace / name of a `delete` or `relabel` entry.
fn key_ref(v: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (s(&v["kind"]), s(&v["namespace"]), s(&v["name"]))
}

fn objects_of(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for d in serde_yaml::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(d).unwrap();
        match v["kind"].as_str() {
            Some("List") => out.extend(v["items"].as_sequence().cloned().unwrap_or_default()),
            _ if v.is_null() => {}
            _ => out.push(v),
        }
    }
    out
}

fn model_of(label: &str, objects: &BTreeMap<(String, String, String), Value>) -> Model {
    let mut text = String::new();
    for v in objects.values() {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(v).unwrap());
    }
    let parsed = parse_manifest(label, &text, "default");
    assert!(
        parsed.errors.is_empty(),
        "{label}: the transcribed objects must be valid: {:?}",
        parsed.errors
    );
    Model::compile(Cluster::build(parsed.objects))
}

fn protocol(s: &str) -> Protocol {
    match s.to_ascii_uppercase().as_str() {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        other => panic!("unknown protocol {other}"),
    }
}

/// Runs one transcribed test file; returns (expectations checked, steps whose kernel
/// run needs nodes or hostNetwork pods, by name).
fn run_file(path: &Path, base: &[Value]) -> (usize, Vec<String>) {
    let label = path.file_name().unwrap().to_string_lossy().to_string();
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut objects: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    for v in base
        .iter()
        .chain(doc["policies"].as_sequence().into_iter().flatten())
    {
        objects.insert(key(v), v.clone());
    }
    let mut checked = 0;
    let mut needing = Vec::new();
    for step in doc["steps"].as_sequence().expect("steps") {
        let name = step["name"].as_str().unwrap_or("?").to_string();
        for v in step["apply"].as_sequence().into_iter().flatten() {
            objects.insert(key(v), v.clone());
        }
        for d in step["delete"].as_sequence().into_iter().flatten() {
            let k = key_ref(d);
            assert!(
                objects.remove(&k).is_some(),
                "{label}: {name}: deleting {k:?}, which is not there"
            );
        }
        for r in step["relabel"].as_sequence().into_iter().flatten() {
            let k = key_ref(r);
            let obj = objects
                .get_mut(&k)
                .unwrap_or_else(|| panic!("{label}: {name}: relabelling {k:?}, not there"));
            obj["metadata"]["labels"] = r["labels"].clone();
        }
        // `needs` names what the kernel lab must provide (nodes, hostNetwork pods); the
        // analyzer has those facts in base.yaml, so every step is checked here.
        if step["needs"].as_sequence().is_some_and(|n| !n.is_empty()) {
            needing.push(format!("{label}: {name}"));
        }
        let model = model_of(&format!("{label}: {name}"), &objects);
        let id = |k: &str| {
            Party::Endpoint(
                model
                    .cluster
                    .endpoint_by_key(k)
                    .unwrap_or_else(|| panic!("{label}: {name}: no pod {k}")),
            )
        };
        for e in step["expect"].as_sequence().into_iter().flatten() {
            let (from, to) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
            let proto = protocol(e["protocol"].as_str().unwrap());
            let port = e["port"].as_u64().unwrap() as u16;
            let want = e["allowed"].as_bool().unwrap();
            let r = reach(
                &model,
                Flow {
                    from: id(from),
                    to: id(to),
                    protocol: Some(proto),
                    port: Some(port),
                    family: Some(Family::V4),
                },
            );
            assert_eq!(
                r.allowed,
                want,
                "{label}: step {name:?}: {from} -> {to} {port}/{proto}: upstream says {}\n{}",
                if want { "allowed" } else { "denied" },
                netfence_analyzer::explain::render(&model, &r)
            );
            checked += 1;
        }
    }
    (checked, needing)
}

fn run_suite(version: &str) -> (usize, usize, Vec<String>) {
    let base = objects_of(&std::fs::read_to_string(dir().join("base.yaml")).unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join(version))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let (mut checked, mut needing) = (0, Vec::new());
    for f in &files {
        let (c, n) = run_file(f, &base);
        checked += c;
        needing.extend(n);
    }
    (files.len(), checked, needing)
}

#[test]
fn v1alpha2_cluster_network_policy_conformance() {
    let (files, checked, needing) = run_suite("v1alpha2");
    assert!(
        files >= 10 && checked >= 100,
        "{files} files, {checked} checks"
    );
    eprintln!(
        "v1alpha2: {files} files, {checked} expectations; {} steps need nodes or hostNetwork pods in the lab",
        needing.len()
    );
}

#[test]
fn v1alpha1_admin_and_baseline_conformance() {
    let (files, checked, needing) = run_suite("v1alpha1");
    assert!(
        files >= 10 && checked >= 100,
        "{files} files, {checked} checks"
    );
    eprintln!(
        "v1alpha1: {files} files, {checked} expectations; {} steps need nodes or hostNetwork pods in the lab",
        needing.len()
    );
}
