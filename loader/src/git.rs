//! Manifests as they are at a git revision: `git ls-tree` lists the files under the
//! given paths, `git cat-file` reads each one. Objects are named `REV:path`.

use crate::{LoadError, Loaded};
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, LoadError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| LoadError::Git(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(LoadError::Git(format!(
            "git {} failed: {}",
            args.join(" "),
            stderr.trim()
        )));
    }
    Ok(out.stdout)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_string()
}

/// `a/./b/` -> `a/b`, `a/../b` -> `b`, `.` -> ``.
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn is_manifest(path: &str) -> bool {
    [".yaml", ".yml", ".json"].iter().any(|e| path.ends_with(e))
        && !path.split('/').any(|c| c.starts_with('.'))
}

/// Reads `paths` (files or directories, relative to `repo`) as they are at `rev`.
pub fn load_revision(
    repo: &Path,
    rev: &str,
    paths: &[String],
    namespace: netfence_model::TargetNamespace<'_>,
) -> Result<Loaded, LoadError> {
    let root = text(git(repo, &["rev-parse", "--show-toplevel"]).map_err(|_| {
        LoadError::Git(format!("{} is not inside a git repository", repo.display()))
    })?);
    let root = Path::new(&root);
    let commit = format!("{rev}^{{commit}}");
    git(root, &["rev-parse", "--verify", "--quiet", &commit])
        .map_err(|_| LoadError::Git(format!("unknown git revision {rev:?}")))?;
    let prefix = text(git(repo, &["rev-parse", "--show-prefix"])?);
    let mut loaded = Loaded::default();
    for p in paths {
        let full = normalize(&format!("{prefix}/{p}"));
        let mut args = vec!["ls-tree", "-r", "-z", "--name-only", "--full-tree", rev];
        if !full.is_empty() {
            args.extend(["--", full.as_str()]);
        }
        let listing = git(root, &args)?;
        let files: Vec<String> = listing
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        if files.is_empty() {
            return Err(LoadError::Git(format!("{p} does not exist at {rev}")));
        }
        // A path naming one file is read whatever its extension, as with -f.
        let single = files.len() == 1 && files[0] == full;
        let manifests: Vec<&String> = files.iter().filter(|f| single || is_manifest(f)).collect();
        if manifests.is_empty() {
            return Err(LoadError::NoManifests(format!("{rev}:{p}")));
        }
        for f in manifests {
            let shown = format!("{rev}:{f}");
            let bytes = git(root, &["cat-file", "blob", &format!("{rev}:{f}")])?;
            let body =
                netfence_model::text::manifest_text(&shown, &bytes).map_err(LoadError::NotText)?;
            loaded.absorb(netfence_model::parse_manifest_in(
                &shown, body, namespace, 1,
            ));
            loaded.inputs += 1;
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("/./manifests/"), "manifests");
        assert_eq!(normalize("sub/./a.yaml"), "sub/a.yaml");
        assert_eq!(normalize("/."), "");
        assert_eq!(normalize("sub/../k8s/a.yaml"), "k8s/a.yaml");
        assert!(is_manifest("k8s/a.yaml"));
        assert!(!is_manifest("k8s/.hidden/a.yaml"));
        assert!(!is_manifest("k8s/readme.md"));
    }
}
