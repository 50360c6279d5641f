//! Manifests from files, directories (recursive) and stdin.

use crate::{LoadError, Loaded};
use netfence_model::{ParsedManifest, TargetNamespace};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// A directory's identity across links: the same (device, inode) is the same directory.
type DirId = (u64, u64);

fn dir_id(path: &Path) -> Result<DirId, LoadError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok((m.dev(), m.ino()))
}

/// Where the walk has been: the directories on the current path (a link back to one of
/// them is a loop) and every directory read (one reached again through another link is
/// not read twice).
struct Walk {
    ancestors: Vec<(DirId, PathBuf)>,
    seen: HashSet<DirId>,
}

/// Manifest files below `dir`, sorted so that results do not depend on the filesystem.
/// Symbolic links are followed; one that leads back to a directory being read is an
/// error naming the link (kubectl -R does not follow directory links at all, so such a
/// tree is not what it would apply either).
fn walk(dir: &Path, state: &mut Walk, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let id = dir_id(dir)?;
    if let Some((_, first)) = state.ancestors.iter().find(|(a, _)| *a == id) {
        return Err(LoadError::DirectoryLoop {
            link: dir.display().to_string(),
            target: first.display().to_string(),
        });
    }
    if !state.seen.insert(id) {
        return Ok(());
    }
    state.ancestors.push((id, dir.to_path_buf()));
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
            walk(&p, state, out)?;
        } else if is_manifest(&p) {
            out.push(p);
        }
    }
    state.ancestors.pop();
    Ok(())
}

/// The manifest files of a directory tree, read as [`load_paths`] reads directories.
pub fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut state = Walk {
        ancestors: Vec::new(),
        seen: HashSet::new(),
    };
    let mut files = Vec::new();
    walk(dir, &mut state, &mut files)?;
    Ok(files)
}

/// Reads every path: `-` is stdin, a directory is read recursively (.yaml, .yml, .json),
/// a file is read whatever its extension. Objects without a namespace go to `namespace`
/// (see [`TargetNamespace`] for when one written in another is an error).
pub fn load_paths(paths: &[String], namespace: TargetNamespace<'_>) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for p in paths {
        if p == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|source| LoadError::Io {
                    path: "<stdin>".into(),
                    source,
                })?;
            let text = netfence_model::text::manifest_text("<stdin>", &bytes)
                .map_err(LoadError::NotText)?;
            loaded.absorb(parse_in("<stdin>", text, namespace));
            loaded.inputs += 1;
            continue;
        }
        let path = Path::new(p);
        let files = if path.is_dir() {
            let files = manifest_files(path)?;
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
            let text =
                netfence_model::text::manifest_text(&shown, &bytes).map_err(LoadError::NotText)?;
            loaded.absorb(parse_in(&shown, text, namespace));
            loaded.inputs += 1;
        }
    }
    Ok(loaded)
}

/// Parses one input's text, a large one on every core (its documents are independent;
/// the result is the same as on one thread).
pub fn parse(shown: &str, text: &str, default_ns: &str) -> ParsedManifest {
    parse_in(shown, text, TargetNamespace::default_to(default_ns))
}

/// [`parse`] with the namespace chosen as [`TargetNamespace`] says.
pub fn parse_in(shown: &str, text: &str, namespace: TargetNamespace<'_>) -> ParsedManifest {
    // Below this, starting threads costs more than it saves.
    const PARALLEL_FROM: usize = 512 * 1024;
    let threads = if text.len() >= PARALLEL_FROM {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    netfence_model::parse_manifest_in(shown, text, namespace, threads)
}
