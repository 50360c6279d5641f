//! Records the git commit the binary is built from (NETFENCE_GIT_COMMIT): the short
//! hash, `-dirty` when tracked files differ from it, `unknown` outside a git checkout
//! (a crate tarball, `cargo install` from a copy).

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let commit = match git(&dir, &["rev-parse", "--short", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&dir, &["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{hash}-dirty")
            } else {
                hash
            }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=NETFENCE_GIT_COMMIT={commit}");
    // A new commit moves HEAD (a checkout) or the branch's ref (a commit on it); a
    // staged change rewrites the index. A worktree keeps HEAD and index in its own git
    // dir, refs in the common one.
    for (what, rel) in [("--git-dir", "HEAD"), ("--git-dir", "index")] {
        if let Some(d) = git(&dir, &["rev-parse", what]) {
            println!("cargo:rerun-if-changed={}", dir.join(d).join(rel).display());
        }
    }
    if let (Some(common), Some(head_ref)) = (
        git(&dir, &["rev-parse", "--git-common-dir"]),
        git(&dir, &["symbolic-ref", "-q", "HEAD"]),
    ) {
        let common = dir.join(common);
        // A path that does not exist would rerun this script on every build.
        for path in [common.join(&head_ref), common.join("packed-refs")] {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
