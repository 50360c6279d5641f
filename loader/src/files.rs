//! Manifests from files, directories (recursive) and stdin.

use crate::{LoadError, Loaded};
use std::io::Read;
use std::path::{Path, PathBuf};

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Manifest files below `dir`, sorted so that results do not depend on the filesystem.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_manifest(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every path: `-` is stdin, a directory is read recursively (.yaml, .yml, .json),
/// a file is read whatever its extension.
pub fn load_paths(paths: &[String], default_ns: &str) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| LoadError::Io {
                    path: "<stdin>".into(),
                    source,
                })?;
            loaded.absorb(netfence_model::parse_manifest("<stdin>", &text, default_ns));
            loaded.inputs += 1;
            continue;
        }
        let path = Path::new(p);
        let files = if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            if files.is_empty() {
                return Err(LoadError::NoManifests(p.clone()));
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let shown = f.display().to_string();
            let bytes = std::fs::read(&f).map_err(|source| LoadError::Io {
                path: shown.clone(),
                source,
            })?;
            let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText {
                path: shown.clone(),
            })?;
            loaded.absorb(netfence_model::parse_manifest(&shown, &text, default_ns));
            loaded.inputs += 1;
        }
    }
    Ok(loaded)
}
