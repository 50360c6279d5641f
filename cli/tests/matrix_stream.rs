//! `matrix` output through pipes and Graphviz: SVG (its text differs between Graphviz
//! versions, so only its start is checked), the error without `dot` on PATH, and a
//! reader that closes the pipe early.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn netfence() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"));
    cmd.current_dir(root()).stdin(Stdio::null());
    cmd
}

fn has_dot() -> bool {
    Command::new("dot")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn svg_goes_through_graphviz() {
    if !has_dot() {
        eprintln!("skipped: Graphviz's dot is not on PATH");
        return;
    }
    let out = netfence()
        .args(["matrix", "-f", "testdata/matrix40", "-o", "svg"])
        .args(["--from-namespace", "frontend", "--to-namespace", "backend"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(svg.starts_with("<?xml"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("<svg"));
    // Graphviz writes "-" as &#45;.
    assert!(svg.contains("<title>frontend/web"), "no node of the graph");
}

#[test]
fn svg_without_dot_is_a_clear_error() {
    let empty = std::env::temp_dir().join("netfence-no-dot-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = netfence()
        .args(["matrix", "-f", "testdata/matrix40", "-o", "svg"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: -o svg needs Graphviz's dot on PATH (apt install graphviz / brew install \
         graphviz); -o dot prints the graph source\n"
    );
}

#[test]
fn a_closed_pipe_ends_the_matrix_normally() {
    for format in ["json", "csv", "list", "list-json", "table"] {
        let mut child = netfence()
            .args([
                "matrix",
                "-f",
                "testdata/matrix40",
                "--all-ports",
                "-o",
                format,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read 100 bytes, as `| head -c 100` does, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut head = [0u8; 100];
        stdout.read_exact(&mut head).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "-o {format}: {stderr}");
        assert!(stderr.is_empty(), "-o {format}: {stderr}");
    }
}
