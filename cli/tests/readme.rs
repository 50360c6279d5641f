//! The README's commands, run as written. Every line of every `sh` block is a command;
//! each one must be run here or be listed in [`checked_elsewhere`] with the reason it
//! cannot run inside the test suite, so a new README example cannot escape the test.
//!
//! - `kubectl-netfence ...` runs the binary this suite built (it is on PATH for the
//!   shell that runs the line, exactly as written, pipes and redirections included);
//! - `cargo run [--release] -p kubectl-netfence -- ARGS` runs that same binary with ARGS
//!   (CI builds once; the release build gives the same output);
//! - `kubectl apply -k deploy/` needs a cluster: the real kubectl renders the same
//!   kustomization offline (`kubectl kustomize deploy/`), which is what apply sends;
//! - `netfence-controller ...` needs a node and an API server: the real binary parses
//!   the line's arguments (clap validates every flag before it prints `--help`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built binaries' directory (kubectl-netfence and, from the workspace build,
/// netfence-controller).
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A command of an `sh` block: its line in README.md and its text, continuations
/// joined. Comments after the command are kept (bash ignores them).
struct ReadmeCommand {
    line: usize,
    text: String,
}

fn readme_commands(readme: &str) -> Vec<ReadmeCommand> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<ReadmeCommand> = None;
    for (i, raw) in readme.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && matches!(lang.trim(), "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (part, continued) = match raw.trim_end().strip_suffix('\\') {
            Some(p) => (p.to_string(), true),
            None => (raw.trim_end().to_string(), false),
        };
        let cmd = match pending.take() {
            Some(mut c) => {
                c.text.push(' ');
                c.text.push_str(part.trim());
                c
            }
            None => ReadmeCommand {
                line: i + 1,
                text: part.trim().to_string(),
            },
        };
        if continued {
            pending = Some(cmd);
        } else {
            out.push(cmd);
        }
    }
    assert!(
        pending.is_none(),
        "README.md ends inside a continued command"
    );
    out
}

/// Commands the suite cannot run, each with the reason and where it is covered.
fn checked_elsewhere(cmd: &str) -> Option<&'static str> {
    let table: &[(&str, &str)] = &[
        ("bash .ci/run", "it is CI itself: the command that runs this test"),
        (
            "cargo run --release -p netfence-bench",
            "a benchmark (minutes, release build); its figures are in the README",
        ),
        (
            "cargo bench ",
            "a benchmark (minutes, release build, root); its figures are in the README",
        ),
        (
            "cargo install cargo-fuzz",
            "installs a tool from the network; the targets' checks run in fuzzcheck/tests/corpus.rs",
        ),
        (
            "cd fuzz && ",
            "needs cargo-fuzz and a nightly toolchain; fuzzcheck/tests/corpus.rs replays the corpus",
        ),
        (
            "RUSTC_BOOTSTRAP=1 cargo fuzz",
            "needs cargo-fuzz and a nightly toolchain",
        ),
        (
            "cargo install --locked --path cli",
            "installs into ~/.cargo/bin; the suite runs the same binary from the build",
        ),
        (
            "cargo install --path cli",
            "installs into ~/.cargo/bin; the suite runs the same binary from the build",
        ),
    ];
    table
        .iter()
        .find(|(prefix, _)| cmd.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// What a command of the README runs here.
enum Run {
    /// A shell line run as written, with the built binaries first on PATH.
    Shell(String),
    Skipped(&'static str),
}

fn plan(cmd: &str) -> Option<Run> {
    if let Some(why) = checked_elsewhere(cmd) {
        return Some(Run::Skipped(why));
    }
    let netfence = cmd
        .strip_prefix("cargo run --release -p kubectl-netfence -- ")
        .or_else(|| cmd.strip_prefix("cargo run -p kubectl-netfence -- "));
    if let Some(args) = netfence {
        return Some(Run::Shell(format!("kubectl-netfence {args}")));
    }
    if let Some(rest) = cmd.strip_prefix("kubectl apply -k ") {
        let dir = rest.split_whitespace().next()?;
        return Some(Run::Shell(format!("kubectl kustomize {dir} >/dev/null")));
    }
    // The plugin itself, real kubectl running it, and the install steps around it
    // (they write only into the sandbox's PATH directory and HOME).
    let runs_here = ["kubectl-netfence ", "kubectl ", "install ", "mkdir -p "];
    if runs_here.iter().any(|p| cmd.starts_with(p)) {
        return Some(Run::Shell(cmd.to_string()));
    }
    if cmd.starts_with("netfence-controller") {
        let args = cmd.split(" #").next().unwrap().trim_end();
        return Some(Run::Shell(format!("{args} --help >/dev/null")));
    }
    None
}

#[test]
fn every_readme_command_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(
        commands.len() > 10,
        "found only {} commands in README.md's sh blocks",
        commands.len()
    );
    // A sandbox: a PATH directory of its own holding the built binaries (install steps
    // copy beside them) and a HOME (completion scripts land there).
    let sandbox = std::env::temp_dir().join(format!("netfence-readme-{}", std::process::id()));
    let (bin, home) = (sandbox.join("bin"), sandbox.join("home"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    for name in ["kubectl-netfence", "netfence-controller"] {
        let built = bin_dir().join(name);
        if built.exists() {
            std::os::unix::fs::symlink(&built, bin.join(name)).unwrap();
        }
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for c in &commands {
        let line = match plan(&c.text) {
            None => {
                failures.push(format!(
                    "README.md:{}: `{}` is neither run by this test nor listed as checked \
                     elsewhere (cli/tests/readme.rs)",
                    c.line, c.text
                ));
                continue;
            }
            Some(Run::Skipped(why)) => {
                eprintln!("README.md:{}: not run here: {why}: `{}`", c.line, c.text);
                continue;
            }
            Some(Run::Shell(line)) => line,
        };
        let out = Command::new("bash")
            .arg("-o")
            .arg("pipefail")
            .arg("-c")
            .arg(&line)
            .current_dir(root())
            .env("PATH", &path)
            .env("HOME", &home)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run bash");
        ran += 1;
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 0 allowed / clean, 1 denied or findings: both are answers. 2 and above are
        // errors, and so is an `error:` line (a bad example would print one).
        if !(code == 0 || code == 1) || stderr.lines().any(|l| l.starts_with("error:")) {
            failures.push(format!(
                "README.md:{}: `{}` exited {code}\n{stderr}",
                c.line, c.text
            ));
        }
    }
    std::fs::remove_dir_all(&sandbox).unwrap();
    assert!(ran > 10, "only {ran} README commands ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn commands_are_read_with_their_continuations() {
    let text =
        "x\n```sh\nkubectl-netfence a \\\n  --b c   # note\n# comment\n\nbash .ci/run\n```\n\
                ```yaml\nkubectl-netfence not-a-command\n```\n";
    let cmds = readme_commands(text);
    assert_eq!(cmds.len(), 2);
    assert_eq!(cmds[0].line, 3);
    assert_eq!(cmds[0].text, "kubectl-netfence a --b c   # note");
    assert_eq!(cmds[1].text, "bash .ci/run");
    assert!(matches!(plan(&cmds[1].text), Some(Run::Skipped(_))));
    assert!(plan("rm -rf /").is_none());
}
