//! Lint never panics: every line prefix of every lint and demo manifest (truncated
//! objects, half-written rules, invalid fields) is linted with every check on.

use netfence_lint::{lint, LintConfig, CATALOGUE};
use netfence_model::{parse_manifest, Cluster, Model};
use std::path::{Path, PathBuf};

fn manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            manifests(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn every_prefix_of_every_manifest_lints_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut files = Vec::new();
    manifests(&root.join("lint"), &mut files);
    manifests(&root.join("demo"), &mut files);
    manifests(&root.join("lint-suppress"), &mut files);
    files.sort();
    let config = LintConfig {
        enable: CATALOGUE.iter().map(|c| c.id).collect(),
        ..LintConfig::default()
    };
    let mut runs = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..=lines.len() {
            let prefix = lines[..n].join("\n");
            let parsed = parse_manifest("prefix.yaml", &prefix, "default");
            let model = Model::compile(Cluster::build(parsed.objects));
            let report = lint(&model, &parsed.errors, &config);
            for finding in &report.findings {
                assert!(!finding.message.is_empty(), "{}: {finding:?}", f.display());
            }
            runs += 1;
        }
    }
    assert!(runs > 1000, "{runs}");
}
