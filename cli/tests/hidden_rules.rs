//! A rule hidden in a YAML merge key is the rule kubectl applies (issue 9, point 5): the
//! CI gate sees the new allow, and lint does not call the policy a duplicate of a deny.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const WORKLOADS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, ports: [{containerPort: 8080}]}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db, namespace: shop}\nspec:\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, ports: [{containerPort: 5432}]}]}\n";

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";

/// Reads like a second default-deny to a YAML 1.2 reader; kubectl applies `ingress: [{}]`.
const HIDDEN: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: maintenance, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  <<: {ingress: [{}]}\n";

fn tree(name: &str) -> TempDir {
    let root = std::env::temp_dir().join(format!("netfence-hidden-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (side, policies) in [
        ("base", DENY.to_string()),
        ("head", format!("{DENY}---\n{HIDDEN}")),
    ] {
        let dir = root.join(side);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("workloads.yaml"), WORKLOADS).unwrap();
        std::fs::write(dir.join("policies.yaml"), policies).unwrap();
    }
    TempDir(root)
}

fn netfence(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kubectl-netfence")
}

#[test]
fn diff_fails_on_an_allow_hidden_in_a_merge_key() {
    let t = tree("diff");
    let out = netfence(
        &[
            "diff",
            "--base",
            "base",
            "--head",
            "head",
            "--fail-on-new-allow",
        ],
        &t.0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("shop/deploy/api -> shop/deploy/db"),
        "{stdout}"
    );
}

#[test]
fn lint_does_not_call_the_hidden_allow_a_duplicate_deny() {
    let t = tree("lint");
    let out = netfence(&["lint", "-f", "head"], &t.0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Read as a YAML 1.2 reader reads it, NF602 said "duplicates shop/default-deny".
    assert!(!stdout.contains("NF602"), "{stdout}");
    assert_eq!(stdout.trim(), "no findings", "{stdout}");
}
