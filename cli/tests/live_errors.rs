//! The kubeconfig flags and the live cluster's errors, against real sockets: a closed
//! port, a listener that never answers, TLS spoken to plain HTTP, and the API fake
//! refusing credentials (401) or RBAC (403).

use netfence_apifake::ApiFake;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cluster() -> ApiFake {
    ApiFake::start(vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}},
               "status": {"podIP": "10.0.0.1"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
               "status": {"podIP": "10.0.0.3"}}),
    ])
}

/// A kubeconfig file of its own for each test.
fn write_config(test: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netfence-live-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(test);
    std::fs::write(&path, text).unwrap();
    path
}

/// A kubeconfig whose context `ctx` (the current one) points at `server`.
fn config_for(server: &str, ctx: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c-{ctx}\n  cluster:\n    server: {server}\n\
         users:\n- name: u-{ctx}\n  user: {{}}\ncontexts:\n- name: {ctx}\n  context:\n    cluster: c-{ctx}\n    user: u-{ctx}\n    namespace: shop\n\
         current-context: {ctx}\n"
    )
}

/// Runs the CLI with no $KUBECONFIG unless given, and HOME where no ~/.kube/config is.
fn run(args: &[&str], kubeconfig_env: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"));
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", std::env::temp_dir().join("netfence-no-home"))
        .env_remove("KUBERNETES_SERVICE_HOST");
    if let Some(v) = kubeconfig_env {
        cmd.env("KUBECONFIG", v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn matrix_with(config: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "matrix",
        "-o",
        "csv",
        "--kubeconfig",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, None)
}

#[test]
fn kubeconfig_flag_and_context_select_the_cluster() {
    let fake = cluster();
    // The current context points at a closed port; --context picks the fake.
    let text = format!(
        "{}---\n{}",
        config_for("http://127.0.0.1:1", "broken"),
        config_for(&fake.url(), "good").replace("current-context: good\n", "")
    );
    let path = write_config("two-contexts", &text);
    let (code, out, err) = matrix_with(&path, &["--context", "good", "-p", "5432"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shop/api,shop/db,5432,TCP,true"), "{out}");
    // --cluster and --user override the context's: its cluster is the broken one.
    let (code, _, err) = matrix_with(
        &path,
        &["--cluster", "c-good", "--user", "u-good", "-p", "5432"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = matrix_with(&path, &["--context", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no context \"nope\" (contexts: broken, good)"),
        "{err}"
    );
}

#[test]
fn kubeconfig_env_merges_its_files_first_one_winning() {
    let fake = cluster();
    let first = write_config("env-first", &config_for(&fake.url(), "first"));
    let second = write_config("env-second", &config_for("http://127.0.0.1:1", "second"));
    let value = format!("{}:{}", first.display(), second.display());
    let (code, out, err) = run(&["matrix", "-o", "csv", "-p", "5432"], Some(&value));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shop/api,shop/db"), "{out}");
    // The second file's context is there too.
    let (code, _, err) = run(&["matrix", "--context", "second"], Some(&value));
    assert_eq!(code, 2);
    assert!(err.contains("context second"), "{err}");
}

#[test]
fn a_closed_port_is_connection_refused_naming_server_and_context() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = format!("http://127.0.0.1:{port}");
    let path = write_config("refused", &config_for(&server, "prod"));
    let (code, _, err) = matrix_with(&path, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("API server {server} (context prod): listing Namespace from the API server: connection refused")),
        "{err}"
    );
}

#[test]
fn a_server_that_never_answers_times_out_after_the_request_timeout() {
    // Accepts connections (the kernel's backlog) and never reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let path = write_config("timeout", &config_for(&server, "slow"));
    let started = std::time::Instant::now();
    let (code, _, err) = matrix_with(&path, &["--request-timeout", "1s"]);
    assert_eq!(code, 2);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{err}"
    );
    assert!(
        err.contains(&format!("API server {server} (context slow): listing Namespace from the API server: timed out after 1s (--request-timeout)")),
        "{err}"
    );
    drop(listener);
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error() {
    let fake = cluster();
    let server = fake.url().replace("http://", "https://");
    let path = write_config("tls", &config_for(&server, "tls"));
    let (code, _, err) = matrix_with(&path, &["--request-timeout", "10s"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "API server {server} (context tls): listing Namespace from the API server: TLS: "
        )),
        "{err}"
    );
}

#[test]
fn rejected_credentials_are_401_unauthorized() {
    let fake = cluster();
    fake.require_token(Some("s3cret"));
    let path = write_config("401", &fake.kubeconfig_with_token("shop", "wrong"));
    let (code, _, err) = matrix_with(&path, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("(context fake): listing Namespace from the API server: 401 Unauthorized"),
        "{err}"
    );
    // The right token is served.
    let path = write_config("401-ok", &fake.kubeconfig_with_token("shop", "s3cret"));
    let (code, _, err) = matrix_with(&path, &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn rbac_refusal_names_the_verb_and_resource_to_grant() {
    let fake = cluster();
    fake.forbid("/apis/networking.k8s.io/v1/networkpolicies");
    let path = write_config("403", &fake.kubeconfig("shop"));
    let (code, _, err) = matrix_with(&path, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "API server {} (context fake): listing NetworkPolicy from the API server: forbidden: \
             cannot list networkpolicies.networking.k8s.io at the cluster scope (needs RBAC verb \
             list on networkpolicies in apiGroup networking.k8s.io, from a ClusterRole)",
            fake.url()
        )),
        "{err}"
    );
}

#[test]
fn a_missing_or_invalid_kubeconfig_is_named() {
    let (code, _, err) = run(&["matrix", "--kubeconfig", "/nonexistent/config"], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("kubeconfig: /nonexistent/config: cannot read it: No such file or directory"),
        "{err}"
    );
    let path = write_config("invalid", "clusters: [this is: not\n");
    let (code, _, err) = matrix_with(&path, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "kubeconfig: {}: failed to parse kubeconfig YAML",
            path.display()
        )),
        "{err}"
    );
    // No kubeconfig anywhere and not in a pod.
    let (code, _, err) = run(&["matrix"], None);
    assert_eq!(code, 2);
    assert!(err.contains("~/.kube/config does not exist"), "{err}");
}
