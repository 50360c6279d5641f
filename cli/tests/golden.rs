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
            "matrix",
            "-f",
            DEMO,
            "--from-namespace",
            "shop",
            "--to-namespace",
            "shop",
            "-p",
            "8080",
            "-o",
            "json",
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
    check("matrix-dot", &["matrix", "-f", DEMO, "-o", "dot"]);
}

#[test]
fn matrix_named_port_column() {
    check(
        "matrix-named-port",
        &[
            "matrix",
            "-f",
            DEMO,
            "--from-namespace",
            "shop",
            "--to-namespace",
            "shop",
            "-p",
            "http",
        ],
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
            "--from-namespace",
            "gamma",
            "--to-namespace",
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
        &[
            "coverage",
            "-f",
            DEMO,
            "--show-namespace",
            "shop",
            "-o",
            "json",
        ],
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

/// Flows to and from addresses outside the cluster, named by the CIDRs the policies
/// write (an except split off its block), and a port the destination does not declare
/// left out.
#[test]
fn diff_outside() {
    check_owned("diff-outside", &diff_case("outside", &[]));
}

/// `--all-ports` also reports the change on the port the destination does not declare.
#[test]
fn diff_all_ports() {
    check_owned("diff-all-ports", &diff_case("outside", &["--all-ports"]));
}

/// Coverage's from-outside / to-outside columns with an ipBlock each way.
#[test]
fn coverage_outside() {
    check(
        "coverage-outside",
        &["coverage", "-f", "testdata/diff/outside/head"],
    );
}

// Verdicts that depend on what the manifests do not show (exit 3).
const UNKNOWN_NS: &str = "testdata/unknown/namespace";
const UNKNOWN_IPBLOCK: &str = "testdata/unknown/ipblock";
const UNKNOWN_MONITORING: &str = "testdata/unknown/monitoring";

#[test]
fn unknown_namespace_labels() {
    check(
        "unknown-namespace",
        &[
            "can-reach",
            "ops/scraper",
            "shop/api",
            "-p",
            "8080",
            "-f",
            UNKNOWN_NS,
        ],
    );
}

#[test]
fn unknown_namespace_explained() {
    check(
        "unknown-namespace-explain",
        &["explain", "ops/scraper", "shop/api", "-f", UNKNOWN_NS],
    );
}

#[test]
fn unknown_namespace_json() {
    check(
        "unknown-namespace-json",
        &[
            "can-reach",
            "ops/scraper",
            "shop/api",
            "-p",
            "8080",
            "-o",
            "json",
            "-f",
            UNKNOWN_NS,
        ],
    );
}

#[test]
fn known_metadata_name_label_decides() {
    check(
        "unknown-namespace-name-label",
        &[
            "can-reach",
            "ops/scraper",
            "shop/api",
            "-p",
            "9090",
            "-f",
            UNKNOWN_NS,
        ],
    );
}

#[test]
fn unknown_workload_address() {
    check(
        "unknown-ipblock",
        &[
            "explain",
            "shop/deploy/web",
            "shop/db",
            "-p",
            "5432",
            "-f",
            UNKNOWN_IPBLOCK,
        ],
    );
}

#[test]
fn pod_cidr_inside_the_ipblock_allows() {
    check(
        "unknown-ipblock-pod-cidr-inside",
        &[
            "can-reach",
            "shop/deploy/web",
            "shop/db",
            "-p",
            "5432",
            "--pod-cidr",
            "10.244.0.0/16",
            "-f",
            UNKNOWN_IPBLOCK,
        ],
    );
}

#[test]
fn pod_cidr_outside_the_ipblock_denies() {
    check(
        "unknown-ipblock-pod-cidr-outside",
        &[
            "explain",
            "shop/deploy/web",
            "shop/db",
            "-p",
            "5432",
            "--pod-cidr",
            "10.100.0.0/16",
            "-f",
            UNKNOWN_IPBLOCK,
        ],
    );
}

#[test]
fn pod_cidr_partly_in_the_ipblock_stays_unknown() {
    check(
        "unknown-ipblock-pod-cidr-partial",
        &[
            "can-reach",
            "shop/deploy/web",
            "shop/db",
            "--pod-cidr",
            "10.0.0.0/8",
            "-f",
            UNKNOWN_IPBLOCK,
        ],
    );
}

#[test]
fn prometheus_stand_in_scrapes() {
    check(
        "unknown-prometheus-stand-in",
        &[
            "explain",
            "monitoring/prometheus/k8s",
            "shop/api",
            "-p",
            "8080",
            "-f",
            UNKNOWN_MONITORING,
        ],
    );
}

#[test]
fn stand_ins_file_overrides_and_adds() {
    check(
        "unknown-stand-ins-file",
        &[
            "can-reach",
            "monitoring/prometheus/k8s",
            "shop/api",
            "-p",
            "8080",
            "--stand-ins",
            "testdata/unknown/stand-ins.yaml",
            "-f",
            UNKNOWN_MONITORING,
        ],
    );
}

#[test]
fn stand_in_of_a_file_rule() {
    check(
        "unknown-stand-in-grafana",
        &[
            "can-reach",
            "shop/api",
            "monitoring/grafana/main",
            "-p",
            "http",
            "--stand-ins",
            "testdata/unknown/stand-ins.yaml",
            "-f",
            UNKNOWN_MONITORING,
        ],
    );
}

#[test]
fn bad_stand_ins_file_is_an_error() {
    check(
        "unknown-stand-ins-bad",
        &[
            "can-reach",
            "shop/api",
            "monitoring/prometheus/k8s",
            "--stand-ins",
            "testdata/unknown/hostnet/cluster.yaml",
            "-f",
            UNKNOWN_MONITORING,
        ],
    );
}

#[test]
fn lint_policy_selecting_only_host_network_pods() {
    check(
        "unknown-lint-host-network",
        &["lint", "--no-config", "-f", "testdata/unknown/hostnet"],
    );
}

#[test]
fn unknown_in_the_tiers_explained() {
    check(
        "unknown-tiers-explain",
        &[
            "explain",
            "ops/scraper",
            "shop/api",
            "-p",
            "80",
            "-f",
            "testdata/unknown/tiers",
        ],
    );
}

/// Like [`check`], with what varies by build replaced by `normalise` first.
fn check_normalised(name: &str, args: &[&str], normalise: fn(&str) -> String) {
    let got = normalise(&run(args, None));
    let path = root().join("testdata/golden").join(format!("{name}.out"));
    if std::env::var_os("NETFENCE_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with NETFENCE_BLESS=1", path.display()));
    assert!(
        got == want,
        "{name}: output differs\n--- got\n{got}\n--- want\n{want}"
    );
}

/// `(commit 1a2b3c4)`, `(commit 1a2b3c4-dirty)` or `(commit unknown)` -> `(commit COMMIT)`.
fn normalise_commit(out: &str) -> String {
    let start = out.find("(commit ").expect("a commit") + "(commit ".len();
    let end = start + out[start..].find(')').expect("closing parenthesis");
    let commit = &out[start..end];
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        hash == "unknown" || (hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "not a short commit hash: {commit}"
    );
    format!("{}COMMIT{}", &out[..start], &out[end..])
}

#[test]
fn version_command() {
    check_normalised("version", &["version"], normalise_commit);
}

#[test]
fn version_flag() {
    check_normalised("version-flag", &["--version"], normalise_commit);
}

#[test]
fn completion_scripts_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completion", shell], None);
        assert!(out.starts_with("exit: 0\n"), "{shell}: {out}");
        for sub in [
            "can-reach",
            "explain",
            "matrix",
            "compile",
            "lint",
            "diff",
            "coverage",
            "drops",
            "version",
        ] {
            assert!(out.contains(sub), "{shell} script lacks {sub}");
        }
    }
}

/// kubectl's kubeconfig flags, with values that would fail if a cluster were read.
const KUBECONFIG_FLAGS: [&str; 10] = [
    "--kubeconfig",
    "/nonexistent/kubeconfig",
    "--context",
    "ctx",
    "--cluster",
    "cl",
    "--user",
    "u",
    "--request-timeout",
    "30s",
];

#[test]
fn every_command_takes_the_kubeconfig_flags_and_ignores_them_without_a_cluster() {
    let commands: [&[&str]; 11] = [
        &[
            "can-reach",
            "shop/frontend",
            "shop/api",
            "-p",
            "8080",
            "-f",
            DEMO,
        ],
        &[
            "explain",
            "shop/frontend",
            "shop/api",
            "-p",
            "8080",
            "-f",
            DEMO,
        ],
        &["matrix", "-f", DEMO, "-p", "8080"],
        &["compile", "-f", DEMO],
        &["lint", "-f", DEMO, "--no-config"],
        &["lint", "--list"],
        &["diff", "--base", DEMO, "--head", DEMO],
        &["coverage", "-f", DEMO],
        &["drops", "--url", "http://127.0.0.1:1"],
        &["version"],
        &["completion", "bash"],
    ];
    for command in commands {
        let plain = run(command, None);
        let after: Vec<&str> = command.iter().chain(&KUBECONFIG_FLAGS).copied().collect();
        assert_eq!(
            run(&after, None),
            plain,
            "{command:?} with the flags after it"
        );
        let before: Vec<&str> = KUBECONFIG_FLAGS.iter().chain(command).copied().collect();
        assert_eq!(
            run(&before, None),
            plain,
            "{command:?} with the flags before it"
        );
    }
}

#[test]
fn all_namespaces_is_refused_by_compile() {
    check("compile-all-namespaces", &["compile", "-A", "-f", DEMO]);
}

#[test]
fn all_namespaces_is_refused_by_drops() {
    check("drops-all-namespaces", &["drops", "-A"]);
}

#[test]
fn all_namespaces_is_refused_by_diff() {
    check(
        "diff-all-namespaces",
        &["diff", "-A", "--base", DEMO, "--head", DEMO],
    );
}

#[test]
fn a_bad_request_timeout_says_which_forms_are_read() {
    check(
        "request-timeout-invalid",
        &["lint", "--list", "--request-timeout", "5 minutes"],
    );
}

// ---- names and namespaces, on an install written without namespaces ----

const NONS: &str = "testdata/nonamespace";
const NONS_INSTALL: &str = "testdata/nonamespace/install.yaml";

#[test]
fn names_in_the_chosen_namespace() {
    check(
        "names-with-namespace",
        &[
            "can-reach",
            "deploy/argocd-server",
            "svc/argocd-repo-server",
            "-n",
            "argocd",
            "-p",
            "8081",
            "-f",
            NONS_INSTALL,
        ],
    );
}

#[test]
fn names_without_namespace_go_to_default_with_a_note() {
    check(
        "names-defaulted-note",
        &[
            "can-reach",
            "deploy/argocd-server",
            "svc/argocd-repo-server",
            "-p",
            "8081",
            "-f",
            NONS_INSTALL,
        ],
    );
}

#[test]
fn a_name_not_found_points_at_defaulted_objects() {
    check(
        "names-defaulted-did-you-mean",
        &[
            "can-reach",
            "argocd/argocd-server",
            "argocd/svc/argocd-repo-server",
            "-p",
            "8081",
            "-f",
            NONS_INSTALL,
        ],
    );
}

#[test]
fn an_object_of_another_namespace_than_n_is_invalid() {
    check(
        "names-namespace-mismatch",
        &[
            "can-reach",
            "deploy/argocd-server",
            "svc/argocd-repo-server",
            "-n",
            "argocd",
            "-p",
            "8081",
            "-f",
            NONS,
        ],
    );
    check(
        "names-namespace-mismatch-keep-going",
        &[
            "can-reach",
            "deploy/argocd-server",
            "svc/argocd-repo-server",
            "-n",
            "argocd",
            "-p",
            "8081",
            "--keep-going",
            "-f",
            NONS,
        ],
    );
}

#[test]
fn full_kind_names_and_wrong_kinds() {
    check(
        "names-full-kinds",
        &[
            "can-reach",
            "StatefulSet.apps/argocd-application-controller",
            "Service/argocd-redis",
            "-n",
            "argocd",
            "-p",
            "6379",
            "-f",
            NONS_INSTALL,
        ],
    );
    check(
        "names-wrong-kind",
        &[
            "can-reach",
            "deployments.apps/argocd-application-controller",
            "Services/argocd-redis",
            "-n",
            "argocd",
            "-p",
            "6379",
            "-f",
            NONS_INSTALL,
        ],
    );
}

#[test]
fn selector_endpoints() {
    check(
        "names-selector",
        &[
            "can-reach",
            "app.kubernetes.io/name=argocd-server",
            "app.kubernetes.io/name in (argocd-redis,argocd-repo-server)",
            "-n",
            "argocd",
            "-f",
            NONS_INSTALL,
        ],
    );
    check(
        "names-selector-every-namespace",
        &[
            "can-reach",
            "monitoring/app=prometheus",
            "*/app.kubernetes.io/part-of=argocd",
            "-p",
            "9090",
            "-f",
            NONS,
        ],
    );
    check(
        "names-selector-no-match",
        &[
            "can-reach",
            "app=prometheus",
            "deploy/argocd-server",
            "-f",
            NONS,
        ],
    );
}

#[test]
fn all_namespaces_for_names() {
    check(
        "names-all-namespaces",
        &[
            "can-reach",
            "-A",
            "prometheus",
            "deploy/argocd-redis",
            "-p",
            "6379",
            "-f",
            NONS,
        ],
    );
    check(
        "names-all-namespaces-ambiguous",
        &["can-reach", "-A", "a", "shop/frontend", "-f", DEMO],
    );
    check(
        "names-all-namespaces-refused",
        &["matrix", "-A", "-f", NONS_INSTALL],
    );
}

#[test]
fn show_namespace_filters_coverage_and_lint() {
    check(
        "lint-show-namespace",
        &["lint", "-f", DEMO, "--show-namespace", "monitoring"],
    );
    check(
        "coverage-show-namespace",
        &[
            "coverage",
            "-f",
            DEMO,
            "--show-namespace",
            "shop",
            "--show-namespace",
            "monitoring",
        ],
    );
}

const M40: &str = "testdata/matrix40";

#[test]
fn matrix40_list() {
    check("matrix40-list", &["matrix", "-f", M40, "-o", "list"]);
}

#[test]
fn matrix40_list_json() {
    check(
        "matrix40-list-json",
        &["matrix", "-f", M40, "-o", "list-json", "--by", "workload"],
    );
}

#[test]
fn matrix40_list_all_ports() {
    check(
        "matrix40-list-all-ports",
        &["matrix", "-f", M40, "-o", "list", "--all-ports"],
    );
}

#[test]
fn matrix40_filters() {
    check(
        "matrix40-filters",
        &[
            "matrix",
            "-f",
            M40,
            "-o",
            "list",
            "--from",
            "frontend/web-0",
            "--from",
            "ops/deploy/reports",
            "--from-namespace",
            "infra",
            "--to-namespace",
            "backend",
            "--to",
            "data/db-0",
        ],
    );
}

#[test]
fn matrix40_split_table() {
    check(
        "matrix40-split-table",
        &["matrix", "-f", M40, "-p", "8443", "-p", "dns/UDP"],
    );
}

#[test]
fn matrix40_filtered_table() {
    check(
        "matrix40-filtered-table",
        &[
            "matrix",
            "-f",
            M40,
            "--from-namespace",
            "frontend",
            "--to-namespace",
            "data",
            "--to-namespace",
            "infra",
        ],
    );
}

#[test]
fn matrix40_dot() {
    check("matrix40-dot", &["matrix", "-f", M40, "-o", "dot"]);
}

#[test]
fn matrix_unknown_from() {
    check(
        "matrix-unknown-from",
        &["matrix", "-f", M40, "--from", "frontend/nope"],
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
            "--from-namespace",
            "shop",
            "--to-namespace",
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
