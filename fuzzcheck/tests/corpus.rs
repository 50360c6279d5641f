//! Replays the committed fuzz corpus (fuzz/corpus/<target>/) through the same checks
//! the fuzz targets run, so that `cargo test` keeps every input the campaigns found
//! interesting passing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `check` over every file of the target's corpus; fails naming each input
/// whose check panicked (and requires a non-empty corpus: an empty one tests nothing).
fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).expect("corpus file");
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} inputs failed: {failed:#?}",
        failed.len()
    );
}

#[test]
fn manifest_corpus() {
    replay("manifest", |d| drop(netfence_fuzzcheck::manifest::check(d)));
}

#[test]
fn compile_corpus() {
    replay("compile", |d| drop(netfence_fuzzcheck::compile::check(d)));
}

#[test]
fn lint_corpus() {
    replay("lint", netfence_fuzzcheck::lint::check);
}

#[test]
fn render_corpus() {
    replay("render", netfence_fuzzcheck::render::check);
}

#[test]
fn invariants_corpus() {
    replay("invariants", netfence_fuzzcheck::invariants::check);
}
