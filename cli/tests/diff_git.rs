//! `diff --base-ref/--head-ref` on a real git repository made for the test, and lint's
//! config file found in the working directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn netfence(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kubectl-netfence")
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=netfence",
            "-c",
            "user.email=netfence@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository whose first commit holds `testdata/diff/open-db/base` under
/// `k8s/` and whose second holds the head version.
fn repo() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netfence-diff-git-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("k8s")).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    let copy = |version: &str| {
        let src = root().join("testdata/diff/open-db").join(version);
        for f in ["policies.yaml", "workloads.yaml"] {
            std::fs::copy(src.join(f), dir.join("k8s").join(f)).unwrap();
        }
    };
    copy("base");
    std::fs::write(dir.join("k8s/notes.txt"), "not a manifest\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    copy("head");
    git(&dir, &["commit", "-q", "-am", "head"]);
    dir
}

#[test]
fn diff_between_git_revisions() {
    let dir = repo();
    let out = netfence(
        &dir,
        &[
            "diff",
            "--base-ref",
            "HEAD~1",
            "--head-ref",
            "HEAD",
            "-f",
            "k8s",
            "-o",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{doc}");
    assert_eq!(changes[0]["from"], "shop/deploy/frontend");
    assert_eq!(changes[0]["to"], "shop/deploy/db");
    assert_eq!(changes[0]["port"], 5432);
    assert_eq!(changes[0]["change"], "allowed");
    assert_eq!(doc["policy_changes"][0]["file"], "HEAD:k8s/policies.yaml");

    // Base from git, head from the working tree (the same as HEAD here); --repo points
    // at the repository from elsewhere.
    let repo_arg = dir.display().to_string();
    let out = netfence(
        &root(),
        &[
            "diff",
            "--repo",
            &repo_arg,
            "--base-ref",
            "HEAD~1",
            "-f",
            "k8s/policies.yaml",
            "-f",
            "k8s/workloads.yaml",
            "--fail-on-new-allow",
        ],
    );
    // Working-tree paths are relative to the current directory, which is not the repo.
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = netfence(
        &dir,
        &[
            "diff",
            "--base-ref",
            "HEAD~1",
            "-f",
            "k8s",
            "--fail-on-new-allow",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("+ shop/deploy/frontend -> shop/deploy/db  5432/TCP"),
        "{text}"
    );

    // Clear errors for a bad revision, a missing path and a directory that is no repo.
    let out = netfence(
        &dir,
        &[
            "diff",
            "--base-ref",
            "no-such-ref",
            "--head-ref",
            "HEAD",
            "-f",
            "k8s",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown git revision \"no-such-ref\""));
    let out = netfence(
        &dir,
        &[
            "diff",
            "--base-ref",
            "HEAD~1",
            "--head-ref",
            "HEAD",
            "-f",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope does not exist at HEAD~1"));
    let out = netfence(
        &dir,
        &["diff", "--base-ref", "HEAD~1", "--head-ref", "HEAD"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base-ref needs -f PATH"));
    let elsewhere = std::env::temp_dir();
    let out = netfence(
        &elsewhere,
        &[
            "diff",
            "--repo",
            "/",
            "--base-ref",
            "HEAD",
            "--head-ref",
            "HEAD",
            "-f",
            "k8s",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_reads_the_config_of_the_working_directory() {
    let dir = root().join("testdata/lint-suppress");
    let with = netfence(&dir, &["lint", "-f", "manifests.yaml", "-o", "json"]);
    let without = netfence(
        &dir,
        &["lint", "-f", "manifests.yaml", "-o", "json", "--no-config"],
    );
    let with: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    let without: serde_json::Value = serde_json::from_slice(&without.stdout).unwrap();
    assert_eq!(with["summary"]["suppressed"], 2, "{with}");
    // Findings come in file and line order; which check fires is what matters here.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&with), vec!["NF401"]);
    assert_eq!(ids(&without), vec!["NF302", "NF501"]);
    assert_eq!(without["summary"]["suppressed"], 1);
}
