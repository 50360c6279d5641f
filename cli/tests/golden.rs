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

// ---- lint, coverage and diff ----

const LINT: &str = "testdata/lint";

#[test]
fn lint_text_every_check() {
    check(
        "lint-text",
        &["lint", "-f", LINT, "--coverage", "--no-config"],
    );
}

#[test]
fn lint_json() {
    check(
        "lint-json",
        &["lint", "-f", LINT, "-o", "json", "--no-config"],
    );
}

#[test]
fn lint_sarif() {
    check(
        "lint-sarif",
        &["lint", "-f", LINT, "-o", "sarif", "--no-config"],
    );
}

#[test]
fn lint_github_annotations() {
    check(
        "lint-github",
        &["lint", "-f", LINT, "-o", "github", "--no-config"],
    );
}

#[test]
fn lint_demo_passes_at_the_default_threshold() {
    check("lint-demo", &["lint", "-f", DEMO]);
}

#[test]
fn lint_fail_on_warning() {
    check(
        "lint-fail-on-warning",
        &[
            "lint",
            "-f",
            DEMO,
            "--fail-on",
            "warning",
            "--disable",
            "NF207",
        ],
    );
}

#[test]
fn lint_explain() {
    check("lint-explain", &["lint", "--explain", "nf203"]);
}

#[test]
fn lint_list() {
    check("lint-list", &["lint", "--list"]);
}

#[test]
fn lint_suppressions() {
    check(
        "lint-suppressed",
        &[
            "lint",
            "-f",
            "testdata/lint-suppress/manifests.yaml",
            "--config",
            "testdata/lint-suppress/.netfence-lint.yaml",
        ],
    );
}

#[test]
fn lint_bad_config_is_an_error() {
    check(
        "lint-bad-config",
        &[
            "lint",
            "-f",
            DEMO,
            "--config",
            "testdata/lint-suppress/bad-config.yaml",
        ],
    );
}

#[test]
fn lint_unknown_check_is_an_error() {
    check("lint-unknown-check", &["lint", "--explain", "NF999"]);
}

#[test]
fn lint_missing_file_is_an_error() {
    check(
        "lint-missing-file",
        &["lint", "-f", "testdata/does-not-exist.yaml"],
    );
}

#[test]
fn lint_bad_input_is_reported_as_findings() {
    check("lint-bad-input", &["lint", "-f", "testdata/bad"]);
}

#[test]
fn lint_reads_stdin() {
    let text = std::fs::read_to_string(root().join("testdata/lint/NF205/triggers.yaml")).unwrap();
    check_with_stdin(
        "lint-stdin",
        &["lint", "-f", "-", "-o", "github"],
        Some(&text),
    );
}

#[test]
fn coverage_table() {
    check("coverage-table", &["coverage", "-f", DEMO]);
}

#[test]
fn coverage_json() {
    check(
        "coverage-json",
        &["coverage", "-f", DEMO, "-n", "shop", "-o", "json"],
    );
}

#[test]
fn coverage_names_guardrails() {
    check(
        "coverage-guardrails",
        &["coverage", "-f", "testdata/diff/guardrail/head"],
    );
}

fn diff_case(case: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "diff".to_string(),
        "--base".to_string(),
        format!("testdata/diff/{case}/base"),
        "--head".to_string(),
        format!("testdata/diff/{case}/head"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn check_owned(name: &str, args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check(name, &args);
}

#[test]
fn diff_text() {
    check_owned("diff-text", &diff_case("open-db", &[]));
}

#[test]
fn diff_json() {
    check_owned("diff-json", &diff_case("default-deny", &["-o", "json"]));
}

#[test]
fn diff_markdown() {
    check_owned(
        "diff-markdown",
        &diff_case("default-deny", &["-o", "markdown"]),
    );
}

#[test]
fn diff_markdown_new_allow_fails() {
    check_owned(
        "diff-fail-on-new-allow",
        &diff_case("open-db", &["-o", "markdown", "--fail-on-new-allow"]),
    );
}

#[test]
fn diff_names_tiered_policies() {
    check_owned("diff-tiers", &diff_case("guardrail", &[]));
}

#[test]
fn diff_labels_and_new_workloads() {
    check_owned("diff-relabel", &diff_case("relabel", &["--by", "pod"]));
}

#[test]
fn diff_without_base_is_an_error() {
    check(
        "diff-no-base",
        &["diff", "--head", "testdata/diff/open-db/head"],
    );
}

#[test]
fn diff_bad_input_is_an_error() {
    check(
        "diff-bad-input",
        &[
            "diff",
            "--base",
            "testdata/bad",
            "--head",
            "testdata/bad/good.yaml",
        ],
    );
}

#[test]
fn compile_nft_for_a_node() {
    check(
        "compile-nft",
        &["compile", "-f", DEMO, "--node", "node-2", "--counters"],
    );
}

#[test]
fn compile_json_for_a_node() {
    check(
        "compile-json",
        &["compile", "-f", DEMO, "--node", "node-1", "-o", "json"],
    );
}

#[test]
fn compile_for_an_unknown_node_is_an_error() {
    check(
        "compile-unknown-node",
        &["compile", "-f", DEMO, "--node", "node-9"],
    );
}

// ---- inputs as people have them: kustomize, Helm, pod dumps, duplicates, field lines ----

/// Like [`check`], with PATH set to `path` (to run without kubectl and kustomize).
fn check_with_path(name: &str, args: &[&str], path: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(args)
        .current_dir(root())
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-netfence");
    let got = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = root().join("testdata/golden").join(format!("{name}.out"));
    if std::env::var_os("NETFENCE_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("missing {}; run with NETFENCE_BLESS=1", golden.display()));
    assert!(got == want, "{name}: got\n{got}\n--- want\n{want}");
}

/// `kubectl kustomize` renders offline, where kubectl is installed.
fn has_kubectl() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()))
}

#[test]
fn kustomize_overlay_by_workload() {
    if !has_kubectl() {
        eprintln!("kubectl is not on PATH; skipping");
        return;
    }
    check(
        "kustomize-overlay",
        &[
            "matrix",
            "-k",
            "testdata/kustomize/overlays/prod",
            "--by",
            "workload",
        ],
    );
}

#[test]
fn kustomize_lint_names_the_rendered_stream() {
    if !has_kubectl() {
        eprintln!("kubectl is not on PATH; skipping");
        return;
    }
    check(
        "kustomize-lint",
        &[
            "lint",
            "-k",
            "testdata/kustomize/overlays/prod",
            "--no-config",
        ],
    );
}

#[test]
fn kustomize_without_a_renderer_says_what_to_install() {
    check_with_path(
        "kustomize-no-renderer",
        &["matrix", "-k", "testdata/kustomize/overlays/prod"],
        "",
    );
}

#[test]
fn a_kustomization_given_with_f_is_read_as_files_with_a_note() {
    check(
        "kustomize-dir-with-f",
        &["matrix", "-f", "testdata/kustomize/base"],
    );
}

#[test]
fn a_helm_chart_says_how_to_render_it() {
    check("helm-chart", &["lint", "-f", "testdata/helm/chart"]);
}

#[test]
fn a_helm_chart_beside_manifests_is_left_out_with_a_note() {
    check(
        "helm-mixed",
        &["lint", "-f", "testdata/helm/mixed", "--no-config"],
    );
}

#[test]
fn pod_dump_matrix_by_workload() {
    check(
        "poddump-matrix",
        &[
            "matrix",
            "-f",
            "testdata/poddump",
            "--by",
            "workload",
            "-n",
            "shop",
            "-p",
            "8080",
            "-p",
            "5432",
        ],
    );
}

#[test]
fn pod_dump_diff_by_workload() {
    check(
        "poddump-diff",
        &[
            "diff",
            "--base",
            "testdata/poddump",
            "--head",
            "testdata/poddump",
            "--head",
            "testdata/poddump-change",
        ],
    );
}

#[test]
fn a_duplicate_names_both_places() {
    check("duplicates", &["matrix", "-f", "testdata/duplicates"]);
}

#[test]
fn lint_findings_at_field_lines() {
    check(
        "lint-field-lines",
        &["lint", "-f", "testdata/lint-lines", "--no-config"],
    );
}

#[test]
fn lint_github_annotations_at_field_lines() {
    check(
        "lint-field-lines-github",
        &[
            "lint",
            "-f",
            "testdata/lint-lines",
            "-o",
            "github",
            "--no-config",
        ],
    );
}
