//! Golden tests: the real binary on `testdata/`, stdout, stderr and exit code compared
//! with `testdata/golden/*.out`. Run with NETFENCE_BLESS=1 to rewrite them after an
//! intended change (and review the diff).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"));
    cmd.args(args).current_dir(root());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl-netfence");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check(name: &str, args: &[&str]) {
    check_with_stdin(name, args, None)
}

fn check_with_stdin(name: &str, args: &[&str], stdin: Option<&str>) {
    let got = run(args, stdin);
    let path = root().join("testdata/golden").join(format!("{name}.out"));
    if std::env::var_os("NETFENCE_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with NETFENCE_BLESS=1", path.display()));
    assert!(
        got == want,
        "{name}: output differs from {}\n--- got\n{got}\n--- want\n{want}",
        path.display()
    );
}

const DEMO: &str = "testdata/demo";

#[test]
fn matrix_table() {
    check(
        "matrix-table",
        &["matrix", "-f", DEMO, "-p", "8080", "-p", "53/UDP"],
    );
}

#[test]
fn matrix_default_ports() {
    check("matrix-default-ports", &["matrix", "-f", DEMO]);
}

#[test]
fn matrix_json() {
    check(
        "matrix-json",
        &[
            "matrix", "-f", DEMO, "-n", "shop", "-p", "8080", "-o", "json",
        ],
    );
}

#[test]
fn matrix_csv() {
    check(
        "matrix-csv",
        &["matrix", "-f", DEMO, "-p", "6379", "-o", "csv"],
    );
}

#[test]
fn matrix_dot() {
    check(
        "matrix-dot",
        &["matrix", "-f", DEMO, "-p", "8080", "-o", "dot"],
    );
}

#[test]
fn matrix_named_port_column() {
    check(
        "matrix-named-port",
        &["matrix", "-f", DEMO, "-n", "shop", "-p", "http"],
    );
}

#[test]
fn matrix_by_workload() {
    check(
        "matrix-by-workload",
        &[
            "matrix",
            "-f",
            "testdata/wide",
            "--by",
            "workload",
            "-o",
            "json",
            "-n",
            "gamma",
        ],
    );
}

#[test]
fn matrix_wide_summary() {
    check("matrix-wide", &["matrix", "-f", "testdata/wide"]);
}

#[test]
fn can_reach_allowed_text() {
    check(
        "can-reach-allowed",
        &[
            "can-reach",
            "shop/frontend",
            "shop/api",
            "--port",
            "8080",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn can_reach_denied_text() {
    check(
        "can-reach-denied",
        &[
            "can-reach",
            "shop/frontend",
            "shop/db",
            "-p",
            "5432",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn can_reach_json() {
    check(
        "can-reach-json",
        &[
            "can-reach",
            "myproject/client",
            "default/redis",
            "-p",
            "6379",
            "-o",
            "json",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn can_reach_any_port() {
    check(
        "can-reach-any-port",
        &["can-reach", "shop/api", "shop/db", "-f", DEMO],
    );
}

#[test]
fn can_reach_service() {
    check(
        "can-reach-service",
        &[
            "can-reach",
            "shop/frontend",
            "shop/svc/api",
            "-p",
            "80",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn can_reach_workload_template() {
    check(
        "can-reach-workload",
        &[
            "explain",
            "shop/deploy/checkout",
            "shop/api",
            "-p",
            "8085",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn can_reach_external() {
    check(
        "can-reach-external",
        &[
            "explain",
            "default/redis",
            "10.0.0.7",
            "-p",
            "32100",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn explain_namespace_selector() {
    check(
        "explain-namespace-selector",
        &[
            "explain",
            "monitoring/prometheus",
            "kube-system/coredns",
            "-p",
            "53",
            "--protocol",
            "UDP",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn explain_except() {
    check(
        "explain-except",
        &[
            "explain",
            "shop/api",
            "default/redis",
            "-p",
            "6379",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn explain_node_local() {
    check(
        "explain-node-local",
        &[
            "explain",
            "monitoring/node-exporter",
            "shop/db",
            "-p",
            "5432",
            "-f",
            DEMO,
        ],
    );
}

#[test]
fn unknown_name_is_an_error() {
    check(
        "unknown-name",
        &["can-reach", "shop/nope", "shop/api", "-f", DEMO],
    );
}

#[test]
fn bad_input_stops_with_file_and_line() {
    check("bad-input", &["matrix", "-f", "testdata/bad"]);
}

#[test]
fn keep_going_analyzes_the_rest() {
    check(
        "bad-input-keep-going",
        &[
            "can-reach",
            "app/client",
            "app/web",
            "-p",
            "80",
            "--keep-going",
            "-f",
            "testdata/bad",
        ],
    );
}

#[test]
fn reads_stdin() {
    let text = std::fs::read_to_string(root().join("testdata/bad/good.yaml")).unwrap();
    check_with_stdin(
        "stdin",
        &[
            "can-reach",
            "app/web",
            "app/client",
            "-f",
            "-",
            "-o",
            "json",
        ],
        Some(&text),
    );
}

#[test]
fn missing_file_is_an_error() {
    check(
        "missing-file",
        &["matrix", "-f", "testdata/does-not-exist.yaml"],
    );
}
