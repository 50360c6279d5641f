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

/// What a directory tree holds: its manifest files and the Helm charts in it, whose
/// files are not read (their templates are not manifests until rendered).
#[derive(Debug, Default)]
pub struct Tree {
    pub files: Vec<PathBuf>,
    pub charts: Vec<PathBuf>,
}

/// A directory with a Chart.yaml is a Helm chart.
pub fn is_helm_chart(dir: &Path) -> bool {
    dir.join("Chart.yaml").is_file()
}

/// Manifest files below `dir`, sorted so that results do not depend on the filesystem.
/// Symbolic links are followed; one that leads back to a directory being read is an
/// error naming the link (kubectl -R does not follow directory links at all, so such a
/// tree is not what it would apply either).
fn walk(dir: &Path, state: &mut Walk, out: &mut Tree) -> Result<(), LoadError> {
    if is_helm_chart(dir) {
        out.charts.push(dir.to_path_buf());
        return Ok(());
    }
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
            out.files.push(p);
        }
    }
    state.ancestors.pop();
    Ok(())
}

/// The manifest files and Helm charts of a directory tree, read as [`load_paths`] reads
/// directories.
pub fn tree(dir: &Path) -> Result<Tree, LoadError> {
    let mut state = Walk {
        ancestors: Vec::new(),
        seen: HashSet::new(),
    };
    let mut tree = Tree::default();
    walk(dir, &mut state, &mut tree)?;
    Ok(tree)
}

/// The manifest files of a directory tree (Helm charts left out).
pub fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    Ok(tree(dir)?.files)
}

/// The Helm chart `path` is inside of (a directory of it given by itself, such as its
/// `templates`, or one of its files), if any: named as the user wrote `path` when that
/// names it, else by its full path.
fn enclosing_chart(path: &Path) -> Option<PathBuf> {
    let full = std::fs::canonicalize(path).ok()?;
    let (up, chart) = full
        .ancestors()
        .enumerate()
        .skip(1)
        .find(|(_, d)| is_helm_chart(d))?;
    let written = path
        .ancestors()
        .nth(up)
        .filter(|a| !a.as_os_str().is_empty() && !a.ends_with(".."));
    Some(written.unwrap_or(chart).to_path_buf())
}

/// The files of a directory given with -f, and notes on what is not read as it is: a
/// kustomization at its top (read as plain files, as `kubectl apply -f` does) and Helm
/// charts (not read). A directory with nothing but charts is an error saying how to
/// render them.
fn directory_files(p: &str, notes: &mut Vec<String>) -> Result<Vec<PathBuf>, LoadError> {
    let path = Path::new(p);
    if let Some(chart) = enclosing_chart(path) {
        return Err(LoadError::HelmChart(chart.display().to_string()));
    }
    let tree = tree(path)?;
    if let Some(name) = crate::kustomize::KUSTOMIZATION_FILES
        .iter()
        .find(|f| path.join(f).is_file())
    {
        notes.push(format!(
            "{p} has a {name}: its files are read as they are (as kubectl apply -f does); pass -k {p} to render it"
        ));
    }
    if tree.files.is_empty() {
        if let Some(chart) = tree.charts.first() {
            return Err(LoadError::HelmChart(chart.display().to_string()));
        }
        return Err(LoadError::NoManifests(p.to_string()));
    }
    for chart in &tree.charts {
        notes.push(format!(
            "{}; its files are not read",
            LoadError::HelmChart(chart.display().to_string())
        ));
    }
    Ok(tree.files)
}

/// Reads the -f paths (as [`load_paths`]) and the -k kustomization directories (each
/// rendered by kubectl or kustomize, see [`crate::kustomize`]).
pub fn load_inputs(
    paths: &[String],
    kustomizations: &[String],
    namespace: TargetNamespace<'_>,
) -> Result<Loaded, LoadError> {
    let mut loaded = load_paths(paths, namespace)?;
    for dir in kustomizations {
        let text = crate::kustomize::render(dir)?;
        let shown = crate::kustomize::shown_name(dir);
        loaded.absorb(parse_in(&shown, &text, namespace));
        loaded.inputs += 1;
    }
    Ok(loaded)
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
            directory_files(p, &mut loaded.notes)?
        } else {
            vec![path.to_path_buf()]
        };
        let in_chart = if path.is_dir() {
            None
        } else {
            enclosing_chart(path)
        };
        for f in files {
            let shown = f.display().to_string();
            let bytes = std::fs::read(&f).map_err(|source| LoadError::Io {
                path: shown.clone(),
                source,
            })?;
            let text =
                netfence_model::text::manifest_text(&shown, &bytes).map_err(LoadError::NotText)?;
            // A chart's template is not YAML until Helm renders it.
            if let Some(chart) = in_chart.as_ref().filter(|_| text.contains("{{")) {
                return Err(LoadError::HelmChart(chart.display().to_string()));
            }
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
