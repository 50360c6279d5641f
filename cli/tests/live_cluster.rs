//! The CLI without -f reads the cluster of the current kubeconfig context: here the
//! in-repo API fake over real HTTP.

use netfence_apifake::ApiFake;
use serde_json::json;
use std::process::Command;

fn cluster() -> ApiFake {
    ApiFake::start(vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "db", "namespace": "shop"},
               "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                                     "ports": [{"port": 5432}]}]}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}},
               "status": {"podIP": "10.0.0.1"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
               "status": {"podIP": "10.0.0.2"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
               "status": {"podIP": "10.0.0.3"}}),
    ])
}

fn run(fake: &ApiFake, args: &[&str]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("netfence-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("config-{}", args.join("-").replace('/', "_")));
    std::fs::write(&path, fake.kubeconfig("shop")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(args)
        .env("KUBECONFIG", &path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn can_reach_on_the_live_cluster_uses_the_context_namespace() {
    let fake = cluster();
    let (code, out, err) = run(&fake, &["can-reach", "api", "db", "--port", "5432"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("shop/api -> shop/db on 5432/TCP: ALLOWED"),
        "{out}"
    );
    let (code, out, err) = run(&fake, &["can-reach", "web", "db", "--port", "5432"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("DENIED"), "{out}");
}

#[test]
fn matrix_on_the_live_cluster() {
    let fake = cluster();
    let (code, out, err) = run(&fake, &["matrix", "-p", "5432", "-o", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shop/web,shop/db,5432,TCP,false"), "{out}");
    assert!(out.contains("shop/api,shop/db,5432,TCP,true"), "{out}");
}

#[test]
fn an_unreachable_api_server_is_a_clear_error() {
    let fake = cluster();
    fake.fail_next("/api/v1/pods", 500);
    let (code, _, err) = run(&fake, &["matrix"]);
    assert_eq!(code, 2);
    assert!(err.contains("listing Pod from the API server"), "{err}");
}

#[test]
fn lint_and_coverage_on_the_live_cluster() {
    let fake = cluster();
    let (code, out, err) = run(&fake, &["lint", "--coverage", "--no-config"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cluster: info NF702 Pod shop/api: shop/api is not isolated for ingress"),
        "{out}"
    );
    let (code, out, err) = run(
        &fake,
        &[
            "lint",
            "-o",
            "sarif",
            "--fail-on",
            "info",
            "--enable",
            "NF703",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Objects read from the API server have no file: results carry no location.
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r.get("locations").is_none()),
        "{out}"
    );
    let (code, out, err) = run(&fake, &["coverage"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shop/db"), "{out}");
}
