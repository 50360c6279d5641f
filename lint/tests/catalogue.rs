//! Every check of the catalogue has a manifest that triggers it and a near-identical one
//! that does not: `testdata/lint/<ID>/triggers.yaml` and `clean.yaml`.

use netfence_lint::{lint, LintConfig, Report, CATALOGUE};
use netfence_model::{parse_manifest, Cluster, Model};
use std::path::{Path, PathBuf};

fn dir(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/lint")
        .join(id)
}

/// Lints one file with every check on (the coverage checks are off by default).
fn lint_file(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = parse_manifest(&path.display().to_string(), &text, "default");
    let model = Model::compile(Cluster::build(parsed.objects));
    let config = LintConfig {
        enable: CATALOGUE.iter().map(|c| c.id).collect(),
        ..LintConfig::default()
    };
    lint(&model, &parsed.errors, &config)
}

fn ids(r: &Report) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.id()).collect()
}

#[test]
fn every_check_triggers_on_its_manifest_and_not_on_the_fixed_one() {
    for check in CATALOGUE {
        let trig = lint_file(&dir(check.id).join("triggers.yaml"));
        let hits: Vec<_> = trig
            .findings
            .iter()
            .filter(|f| f.id() == check.id)
            .collect();
        assert!(
            !hits.is_empty(),
            "{}: triggers.yaml does not trigger it; found {:?}",
            check.id,
            ids(&trig)
        );
        for f in &hits {
            assert!(
                f.source.line > 0,
                "{}: finding without a line: {f:?}",
                check.id
            );
            assert!(
                f.source.file.ends_with("triggers.yaml"),
                "{}: {}",
                check.id,
                f.source
            );
        }
        let clean = lint_file(&dir(check.id).join("clean.yaml"));
        assert!(
            !ids(&clean).contains(&check.id),
            "{}: clean.yaml triggers it: {:?}",
            check.id,
            clean
                .findings
                .iter()
                .filter(|f| f.id() == check.id)
                .map(|f| &f.message)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn there_is_no_testdata_for_a_check_that_does_not_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/lint");
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            netfence_lint::check(&name).is_some(),
            "testdata/lint/{name} names no check"
        );
    }
}

#[test]
fn nf203_fires_on_the_shape_when_both_readings_admit_the_same_pods() {
    let r = lint_file(&dir("NF203").join("same-pods.yaml"));
    let f: Vec<_> = r.findings.iter().filter(|f| f.id() == "NF203").collect();
    assert_eq!(f.len(), 1, "{:?}", r.findings);
    let m = &f[0].message;
    assert!(
        m.contains("ingress[0].from[0] and [1] are two peers (OR)"),
        "{m}"
    );
    // Both readings, with the pods each admits.
    assert!(
        m.contains("(1 pod(s): nf203s-clients/deploy/client)"),
        "{m}"
    );
    assert!(m.contains("as one peer"), "{m}");
    assert!(m.contains("both readings admit the same pods"), "{m}");
}
