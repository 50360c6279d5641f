//! Inputs as people have them: kustomizations (-k, and a -f directory that has one) and
//! Helm charts.

use netfence_loader::files::{load_inputs, load_paths};
use netfence_loader::LoadError;
use netfence_model::Object;
use std::path::Path;

fn testdata(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
        .display()
        .to_string()
}

fn names(objects: &[Object]) -> Vec<String> {
    objects.iter().map(Object::describe).collect()
}

#[test]
fn a_kustomize_overlay_is_rendered_and_keeps_the_rendered_lines() {
    if netfence_loader::kustomize::find_renderer().is_none() {
        eprintln!("neither kubectl nor kustomize is on PATH; skipping");
        return;
    }
    let dir = testdata("kustomize/overlays/prod");
    let loaded = load_inputs(
        &[],
        std::slice::from_ref(&dir),
        netfence_model::TargetNamespace::default_to("default"),
    )
    .unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        names(&loaded.objects),
        [
            "Deployment shop-prod/prod-client",
            "Deployment shop-prod/prod-web",
            "NetworkPolicy shop-prod/prod-default-deny",
            "NetworkPolicy shop-prod/prod-web",
            "NetworkPolicy shop-prod/prod-web-metrics",
        ]
    );
    let sources: Vec<String> = loaded
        .objects
        .iter()
        .map(|o| o.source().to_string())
        .collect();
    // Lines of the rendered stream: kubectl kustomize writes each object from its
    // apiVersion, documents separated by `---`.
    assert_eq!(sources[0], format!("{dir} (kustomize):1"));
    assert_eq!(sources[1], format!("{dir} (kustomize):21"));
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
}

#[test]
fn a_directory_with_a_kustomization_is_read_as_files_with_a_note() {
    let dir = testdata("kustomize/base");
    let loaded = load_paths(
        std::slice::from_ref(&dir),
        netfence_model::TargetNamespace::default_to("default"),
    )
    .unwrap();
    // As kubectl apply -f reads it: the files as they are, no namespace from the
    // kustomization.
    assert!(names(&loaded.objects).contains(&"Deployment default/web".to_string()));
    assert_eq!(
        loaded.notes,
        [format!(
            "{dir} has a kustomization.yaml: its files are read as they are (as kubectl apply -f does); pass -k {dir} to render it"
        )]
    );
}

#[test]
fn a_helm_chart_is_an_error_that_says_how_to_render_it() {
    for rel in [
        "helm/chart",
        "helm/chart/templates",
        "helm/chart/templates/policy.yaml",
    ] {
        let err = load_paths(
            &[testdata(rel)],
            netfence_model::TargetNamespace::default_to("default"),
        )
        .unwrap_err();
        let LoadError::HelmChart(chart) = &err else {
            panic!("{rel}: {err}")
        };
        assert_eq!(chart, &testdata("helm/chart"), "{rel}");
        assert_eq!(
            err.to_string(),
            format!("{chart} is a Helm chart: render it first, e.g. helm template NAME {chart} | kubectl-netfence <command> -f -")
        );
    }
}

#[test]
fn a_chart_beside_manifests_is_left_out_with_a_note() {
    let loaded = load_paths(
        &[testdata("helm/mixed")],
        netfence_model::TargetNamespace::default_to("default"),
    )
    .unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(names(&loaded.objects), ["NetworkPolicy shop/default-deny"]);
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
    assert!(
        loaded.notes[0].starts_with(&format!(
            "{} is a Helm chart",
            testdata("helm/mixed/charts/web")
        )),
        "{:?}",
        loaded.notes
    );
}
