//! The network-policy-api conformance suites as transcribed into
//! `testdata/tiers-conformance/` (provenance and licence in its README): each file's
//! steps replayed in order (objects applied, deleted, relabelled), with the model of
//! the cluster after each step and the upstream assertions to check against it. The
//! analyzer's test and the kernel's read the suite through this one reader.

use netfence_model::{parse_manifest, Cluster, Model, Protocol};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The transcribed suites' directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/tiers-conformance")
}

/// One upstream assertion: a connection and whether it must get through.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// `namespace/name` of the pods.
    pub from: String,
    pub to: String,
    pub protocol: Protocol,
    pub port: u16,
    pub allowed: bool,
}

/// The cluster after one step, and what upstream asserts of it.
pub struct Step {
    /// `file: step`.
    pub label: String,
    pub model: Model,
    pub expect: Vec<Expectation>,
    /// What a lab must provide for it (`nodes`, `hostNetwork`).
    pub needs: Vec<String>,
}

type Key = (String, String, String);

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// kind / namespace / name of an object.
fn key(v: &Value) -> Key {
    (
        text(&v["kind"]),
        text(&v["metadata"]["namespace"]),
        text(&v["metadata"]["name"]),
    )
}

/// kind / namespace / name of a `delete` or `relabel` entry.
fn key_ref(v: &Value) -> Key {
    (text(&v["kind"]), text(&v["namespace"]), text(&v["name"]))
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_sequence().into_iter().flatten()
}

/// The objects of a YAML text, `kind: List` items included.
pub fn objects_of(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for d in serde_yaml::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(d).expect("transcribed YAML parses");
        match v["kind"].as_str() {
            Some("List") => out.extend(items(&v["items"]).cloned()),
            _ if v.is_null() => {}
            _ => out.push(v),
        }
    }
    out
}

/// The base topology (namespaces, pods, nodes) every file starts from.
pub fn base() -> Vec<Value> {
    objects_of(&std::fs::read_to_string(dir().join("base.yaml")).expect("base.yaml"))
}

fn model_of(label: &str, objects: &BTreeMap<Key, Value>) -> Model {
    let mut text = String::new();
    for v in objects.values() {
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(v).expect("serialises"));
    }
    let parsed = parse_manifest(label, &text, "default");
    assert!(
        parsed.errors.is_empty(),
        "{label}: the transcribed objects must be valid: {:?}",
        parsed.errors
    );
    Model::compile(Cluster::build(parsed.objects))
}

pub fn protocol(s: &str) -> Protocol {
    match s.to_ascii_uppercase().as_str() {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        other => panic!("unknown protocol {other}"),
    }
}

/// The test files of a suite version (`v1alpha2`, `v1alpha1`), in name order.
pub fn files(version: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join(version))
        .expect("suite directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Replays one file's steps from `base`, handing each step to `check` in order.
pub fn replay(path: &Path, base: &[Value], mut check: impl FnMut(Step)) {
    let file = path
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .to_string();
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("readable")).expect("YAML");
    let mut objects: BTreeMap<Key, Value> = BTreeMap::new();
    for v in base.iter().chain(items(&doc["policies"])) {
        objects.insert(key(v), v.clone());
    }
    for step in items(&doc["steps"]) {
        let label = format!("{file}: {}", step["name"].as_str().unwrap_or("?"));
        for v in items(&step["apply"]) {
            objects.insert(key(v), v.clone());
        }
        for d in items(&step["delete"]) {
            let k = key_ref(d);
            assert!(
                objects.remove(&k).is_some(),
                "{label}: deleting {k:?}, which is not there"
            );
        }
        for r in items(&step["relabel"]) {
            let k = key_ref(r);
            let obj = objects
                .get_mut(&k)
                .unwrap_or_else(|| panic!("{label}: relabelling {k:?}, not there"));
            obj["metadata"]["labels"] = r["labels"].clone();
        }
        let expect = items(&step["expect"])
            .map(|e| Expectation {
                from: text(&e["from"]),
                to: text(&e["to"]),
                protocol: protocol(e["protocol"].as_str().expect("protocol")),
                port: e["port"].as_u64().expect("port") as u16,
                allowed: e["allowed"].as_bool().expect("allowed"),
            })
            .collect();
        let needs = items(&step["needs"]).map(text).collect();
        check(Step {
            model: model_of(&label, &objects),
            label,
            expect,
            needs,
        });
    }
}
