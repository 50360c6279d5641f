//! Real kubectl runs the plugin: the binary and kubectl_complete-netfence in a directory
//! on PATH, as `cargo install` and the README put them. kubectl is required (CI installs
//! it): without it these tests fail, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kubectl() -> PathBuf {
    let path = Path::new("/usr/bin/kubectl");
    assert!(
        path.exists(),
        "kubectl is not installed at /usr/bin/kubectl: install it (the `kubectl` package, \
         version 1.26 or later for plugin completion); these tests run the plugin through it"
    );
    path.to_path_buf()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory holding the plugin and its completion script, as installed (the
/// binary linked).
fn plugin_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netfence-plugin-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A link, not a copy: the debug binary is some 200 MB.
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubectl-netfence"),
        dir.join("kubectl-netfence"),
    )
    .unwrap();
    std::fs::copy(
        root().join("cli/kubectl_complete-netfence"),
        dir.join("kubectl_complete-netfence"),
    )
    .unwrap();
    dir
}

/// `kubectl ARGS` typed in bash, with the plugin directory first on PATH and no
/// kubeconfig. (bash, as any shell, tells the program it runs its path in `_`, which is
/// how the plugin knows kubectl ran it.)
fn kubectl_in_shell(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let kubectl = kubectl();
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        dir.display(),
        kubectl.parent().unwrap().display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg("kubectl \"$@\"")
        .arg("bash")
        .args(args)
        .current_dir(root())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .output()
        .expect("run bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kubectl_runs_the_plugin_on_manifests() {
    let dir = plugin_dir("run");
    let (code, out, err) = kubectl_in_shell(
        &dir,
        &[
            "netfence",
            "can-reach",
            "shop/frontend",
            "shop/api",
            "--port",
            "8080",
            "-f",
            "testdata/demo",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("shop/frontend -> shop/api on 8080/TCP: ALLOWED"),
        "{out}"
    );
    // Exit codes pass through kubectl: denied is 1.
    let (code, out, err) = kubectl_in_shell(
        &dir,
        &[
            "netfence",
            "can-reach",
            "shop/api",
            "shop/frontend",
            "--port",
            "8080",
            "-f",
            "testdata/demo",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
}

#[test]
fn kubectl_lists_the_plugin() {
    let dir = plugin_dir("list");
    let (code, out, err) = kubectl_in_shell(&dir, &["plugin", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    let installed = dir.join("kubectl-netfence");
    assert!(out.contains(&installed.display().to_string()), "{out}{err}");
}

#[test]
fn usage_and_errors_say_kubectl_netfence() {
    let dir = plugin_dir("usage");
    let (code, out, err) = kubectl_in_shell(&dir, &["netfence", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Usage: kubectl netfence [OPTIONS] <COMMAND>"),
        "{out}"
    );
    let (code, _, err) = kubectl_in_shell(&dir, &["netfence", "can-reach"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Usage: kubectl netfence can-reach <FROM> <TO>"),
        "{err}"
    );
    // Run straight from the shell, it is kubectl-netfence.
    let out = Command::new("bash")
        .arg("-c")
        .arg("kubectl-netfence --help")
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: kubectl-netfence [OPTIONS]"), "{text}");
}

/// The candidates of `kubectl __complete netfence WORDS` (kubectl asks
/// kubectl_complete-netfence), without descriptions, and the directive.
fn complete(dir: &Path, words: &[&str]) -> (Vec<String>, String) {
    let mut args = vec!["__complete", "netfence"];
    args.extend_from_slice(words);
    let (code, out, err) = kubectl_in_shell(dir, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("kubectl_complete-netfence"),
        "kubectl did not call the completion script: {err}"
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    let values = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    (values, directive)
}

#[test]
fn kubectl_completes_through_the_completion_script() {
    let dir = plugin_dir("complete");
    let (values, directive) = complete(&dir, &[""]);
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
        "completion",
    ] {
        assert!(values.contains(&sub.to_string()), "{sub}: {values:?}");
    }
    assert_eq!(directive, ":4");
    assert_eq!(
        complete(&dir, &["can-reach", "--out"]),
        (vec!["--output".to_string()], ":4".to_string())
    );
    assert_eq!(
        complete(&dir, &["can-reach", "-o", ""]),
        (
            vec!["text".to_string(), "json".to_string()],
            ":4".to_string()
        )
    );
    assert_eq!(
        complete(&dir, &["matrix", "--by", ""]),
        (
            vec!["pod".to_string(), "workload".to_string()],
            ":4".to_string()
        )
    );
    // Global flags are offered to every command.
    let (values, _) = complete(&dir, &["lint", "--k"]);
    assert_eq!(values, ["--kustomize", "--keep-going", "--kubeconfig"]);
    // The kubeconfig's names (HOME is the plugin directory: its .kube/config).
    std::fs::create_dir_all(dir.join(".kube")).unwrap();
    std::fs::write(
        dir.join(".kube/config"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: east\n  cluster: {server: 'https://e'}\n\
         users:\n- name: admin\n  user: {}\ncontexts:\n- name: prod\n  context: {cluster: east, user: admin}\n\
         - name: staging\n  context: {cluster: east, user: admin}\n",
    )
    .unwrap();
    assert_eq!(
        complete(&dir, &["matrix", "--context", ""]),
        (
            vec!["prod".to_string(), "staging".to_string()],
            ":4".to_string()
        )
    );
    // -f: manifest files by extension (cobra's FilterFileExt).
    assert_eq!(
        complete(&dir, &["matrix", "-f", ""]),
        (
            vec!["yaml".to_string(), "yml".to_string(), "json".to_string()],
            ":8".to_string()
        )
    );
}
