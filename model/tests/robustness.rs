//! Bad input never panics: every prefix of every bundled manifest, and byte-level
//! corruptions of them, either parse or produce located errors.

use netfence_model::{parse_manifest, Cluster, Model};
use std::path::Path;

fn manifests() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    assert!(out.len() >= 5, "testdata manifests not found");
    out
}

fn check(name: &str, text: &str) {
    let parsed = parse_manifest(name, text, "default");
    for e in &parsed.errors {
        assert!(
            e.to_string().starts_with(name),
            "error without its file: {e}"
        );
        assert!(e.location.line >= 1, "error without a line: {e}");
    }
    // Whatever was valid compiles.
    let _ = Model::compile(Cluster::build(parsed.objects));
}

#[test]
fn every_prefix_of_every_manifest_is_handled() {
    for (name, text) in manifests() {
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..=lines.len() {
            check(&name, &lines[..n].join("\n"));
        }
    }
}

#[test]
fn corrupted_manifests_are_handled() {
    let swaps: [(&str, &str); 8] = [
        (": ", ": ["),
        ("- ", "-- "),
        ("{", "["),
        ("80", "-80"),
        ("TCP", "tcp"),
        ("/", "//"),
        ("In", "in"),
        ("  ", "\t"),
    ];
    for (name, text) in manifests() {
        for (from, to) in swaps {
            // Corrupt each occurrence in turn.
            for (i, _) in text.match_indices(from).take(40) {
                let mut t = text.clone();
                t.replace_range(i..i + from.len(), to);
                check(&name, &t);
            }
        }
    }
}
