//! `lint -o sarif` validated against the OASIS SARIF 2.1.0 JSON schema
//! (`testdata/sarif/sarif-schema-2.1.0.json`, draft-04), offline.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sarif(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["lint", "-o", "sarif", "--no-config"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("run kubectl-netfence");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("SARIF output is JSON")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("testdata/sarif/sarif-schema-2.1.0.json"))
        .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft4::new(&schema).expect("the schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: SARIF invalid:\n{}",
        errors.join("\n")
    );
}

#[test]
fn lint_sarif_is_valid_sarif_2_1_0() {
    let v = validator();
    // Every check fires somewhere in testdata/lint (coverage on), invalid objects included.
    let all = sarif(&["-f", "testdata/lint", "--coverage"]);
    assert_valid(&v, &all, "testdata/lint");
    let results = all["runs"][0]["results"].as_array().unwrap();
    let rules = all["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), netfence_lint_ids().len());
    for id in netfence_lint_ids() {
        assert!(
            results.iter().any(|r| r["ruleId"] == id),
            "no SARIF result for {id}"
        );
    }
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("testdata/lint/"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    // No results, and results without a file (stdin) are valid too.
    assert_valid(
        &v,
        &sarif(&["-f", "testdata/lint/NF101/clean.yaml"]),
        "clean",
    );
    let stdin = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["lint", "-o", "sarif", "--no-config", "-f", "-"])
        .current_dir(root())
        .stdin(std::fs::File::open(root().join("testdata/lint/NF205/triggers.yaml")).unwrap())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&stdin.stdout).unwrap();
    assert_valid(&v, &doc, "stdin");
}

#[test]
fn the_validator_rejects_broken_sarif() {
    let v = validator();
    let mut doc = sarif(&["-f", "testdata/lint/NF101/triggers.yaml"]);
    doc["version"] = serde_json::json!("2.0.0");
    assert!(!v.is_valid(&doc));
    let mut doc = sarif(&["-f", "testdata/lint/NF101/triggers.yaml"]);
    doc["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!v.is_valid(&doc));
}

/// The catalogue's ids, as `lint --list` prints them.
fn netfence_lint_ids() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["lint", "--list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}
