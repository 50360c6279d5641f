//! Directory walks end (issue 9, point 8): a symbolic link back to a directory being read
//! is an error naming the link, and a directory reached twice is read once.

use netfence_loader::files::load_paths;
use netfence_loader::LoadError;
use netfence_model::TargetNamespace;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("netfence-walk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";

/// Loads `dir` on another thread, failing the test rather than hanging on a walk that
/// never ends (the generous bound is no timing claim: the walk takes milliseconds).
fn load(dir: &std::path::Path) -> Result<netfence_loader::Loaded, LoadError> {
    let (tx, rx) = mpsc::channel();
    let path = dir.display().to_string();
    std::thread::spawn(move || {
        let _ = tx.send(load_paths(&[path], TargetNamespace::default_to("default")));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the directory walk did not finish")
}

#[test]
fn links_back_to_a_directory_being_read_are_an_error_naming_the_link() {
    let t = TempDir::new("loop");
    std::fs::write(t.0.join("ns.yaml"), NS).unwrap();
    symlink(".", t.0.join("a")).unwrap();
    symlink(".", t.0.join("b")).unwrap();
    match load(&t.0) {
        Err(e @ LoadError::DirectoryLoop { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&t.0.join("a").display().to_string()),
                "{msg}"
            );
            assert!(msg.contains("directory loop"), "{msg}");
        }
        other => panic!("{other:?}"),
    }

    // A link to an ancestor deeper down is a loop as well.
    let t = TempDir::new("deep");
    std::fs::create_dir_all(t.0.join("x/y")).unwrap();
    std::fs::write(t.0.join("x/y/ns.yaml"), NS).unwrap();
    symlink("../..", t.0.join("x/y/up")).unwrap();
    assert!(matches!(load(&t.0), Err(LoadError::DirectoryLoop { .. })));
}

#[test]
fn a_directory_reached_twice_is_read_once() {
    let t = TempDir::new("twice");
    std::fs::create_dir_all(t.0.join("real")).unwrap();
    std::fs::write(t.0.join("real/ns.yaml"), NS).unwrap();
    symlink("real", t.0.join("same")).unwrap();
    let loaded = load(&t.0).unwrap();
    assert_eq!(loaded.inputs, 1);
    assert_eq!(loaded.objects.len(), 1);
}

#[test]
fn invalid_utf8_names_its_line_and_byte() {
    let dir = std::env::temp_dir().join(format!("nf-utf8-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.yaml");
    std::fs::write(&file, b"kind: Namespace\nmetadata: {name: a\xff}\n").unwrap();
    let Err(err) = netfence_loader::files::load_paths(
        &[file.display().to_string()],
        TargetNamespace::default_to("default"),
    ) else {
        panic!("invalid UTF-8 must be an error");
    };
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}:2: invalid UTF-8 at byte 34", file.display())),
        "{shown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
