//! Findings carry the line of the field at fault (testdata/lint-lines/policies.yaml
//! notes each expected line beside its field).

use netfence_lint::{lint, LintConfig};
use netfence_model::{parse_manifest, Cluster, Model};
use std::path::Path;

#[test]
fn findings_point_at_the_offending_field() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/lint-lines/policies.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = parse_manifest("policies.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let model = Model::compile(Cluster::build(parsed.objects));
    let report = lint(&model, &[], &LintConfig::default());
    let got: Vec<(&str, usize)> = report
        .findings
        .iter()
        .map(|f| (f.id(), f.source.line))
        .collect();
    for want in [
        ("NF103", 35),
        ("NF203", 35),
        ("NF301", 39),
        ("NF404", 46),
        ("NF101", 53),
        ("NF201", 54),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    // A finding on a line with a note (`# NF103 NF203: line 35`) is one the note names.
    let lines: Vec<&str> = text.lines().collect();
    for f in &report.findings {
        let line = lines[f.source.line - 1];
        if let Some(note) = line.split("# ").nth(1).filter(|n| n.starts_with("NF")) {
            let (ids, at) = note.split_once(": line ").unwrap();
            assert!(
                ids.split(' ').any(|id| id == f.id()),
                "{} at {line}",
                f.id()
            );
            assert_eq!(at.trim(), f.source.line.to_string(), "{line}");
        }
    }
}
