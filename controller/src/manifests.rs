//! Standalone mode: a directory of manifests instead of an API server. The directory is
//! polled; on any change every file is read again. Failing closed, file by file: a file
//! that no longer parses (YAML syntax, unreadable, not UTF-8) keeps the objects it last
//! gave; an object that fails to decode keeps its last valid version; only a deleted
//! file takes its objects away.

use crate::error::{Error, ErrorKind};
use crate::state::{Listing, Shared};
use netfence_model::{ManifestError, Object};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The manifest files below `dir`, read as the CLI reads directories (the loader's walk:
/// sorted, hidden names skipped, symbolic-link loops detected). An error (a directory
/// that cannot be listed, a loop) hides which files are gone, so the caller keeps
/// everything it enforces.
fn list(dir: &Path) -> Result<Vec<PathBuf>, netfence_loader::LoadError> {
    netfence_loader::files::manifest_files(dir)
}

/// What changes when a file is edited, added or removed: path, size and mtime of every
/// manifest file.
fn fingerprint(files: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    files
        .iter()
        .filter_map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((p.clone(), m.len(), m.modified().ok()))
        })
        .collect()
}

/// A file as last read: the objects it gives (kept from before where it failed).
type Files = BTreeMap<PathBuf, Vec<Object>>;

/// One problem of a reload, for the log and `netfence_manifest_errors`.
#[derive(Debug, PartialEq)]
pub struct Problem {
    pub file: String,
    /// 0 when the whole file is at fault (unreadable, not UTF-8).
    pub line: usize,
    pub message: String,
    /// The file's previous objects stay in force.
    pub file_kept: bool,
}

/// Reads every listed file against the previous reading.
fn reload(listing: &[PathBuf], previous: &Files) -> (Files, Vec<Problem>) {
    let old_by_name: BTreeMap<String, &Object> = previous
        .values()
        .flatten()
        .map(|o| (o.describe(), o))
        .collect();
    let mut files = Files::new();
    let mut problems = Vec::new();
    for path in listing {
        let shown = path.display().to_string();
        let kept = || previous.get(path).cloned().unwrap_or_default();
        let whole_file = |message: String| Problem {
            file: shown.clone(),
            line: 0,
            message,
            file_kept: true,
        };
        let text = match std::fs::read(path) {
            // Gone since the listing: deleted.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(whole_file(format!("cannot read: {e}")));
                files.insert(path.clone(), kept());
                continue;
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    problems.push(whole_file("not valid UTF-8 text".into()));
                    files.insert(path.clone(), kept());
                    continue;
                }
            },
        };
        let parsed = netfence_model::parse_manifest(&shown, &text, "default");
        // An error not tied to an object (YAML syntax, a document that is no object)
        // hides which objects the file meant: keep all it gave before, newer versions of
        // those that still parse replacing them.
        let unparsed = parsed.errors.iter().any(|e| e.object.is_none());
        let mut objects: BTreeMap<String, Object> = if unparsed {
            kept().into_iter().map(|o| (o.describe(), o)).collect()
        } else {
            BTreeMap::new()
        };
        for o in parsed.objects {
            objects.insert(o.describe(), o);
        }
        for e in &parsed.errors {
            if let Some(name) = &e.object {
                if let Some(old) = old_by_name.get(name) {
                    objects
                        .entry(name.clone())
                        .or_insert_with(|| (*old).clone());
                }
            }
            problems.push(problem(e, unparsed));
        }
        files.insert(path.clone(), objects.into_values().collect());
    }
    (files, problems)
}

fn problem(e: &ManifestError, file_kept: bool) -> Problem {
    Problem {
        file: e.location.file.to_string(),
        line: e.location.line,
        message: e.to_string(),
        file_kept,
    }
}

/// Every object of every file; the same object in two files: the later file wins.
fn objects(files: &Files) -> Vec<Object> {
    let mut all: BTreeMap<String, Object> = BTreeMap::new();
    for o in files.values().flatten() {
        all.insert(o.describe(), o.clone());
    }
    all.into_values().collect()
}

fn report(shared: &Shared, problems: &[Problem]) {
    shared.metrics.manifest_errors.clear();
    for p in problems {
        let location = if p.line == 0 {
            p.file.clone()
        } else {
            format!("{}:{}", p.file, p.line)
        };
        if p.file_kept {
            tracing::warn!(%location, error = %p.message, "manifest file does not parse; the objects it last gave stay enforced");
        } else {
            tracing::warn!(%location, error = %p.message, "skipping invalid object; its last valid version (if any) stays enforced");
        }
        shared.metrics.error(ErrorKind::InvalidObject);
        shared
            .metrics
            .manifest_errors
            .get_or_create(&crate::metrics::FileLineLabel {
                file: p.file.clone(),
                line: p.line.to_string(),
            })
            .inc();
    }
}

/// Polls `dir` every `every` and reloads it on change.
pub async fn run(dir: PathBuf, every: Duration, shared: Arc<Shared>) {
    let mut last = None;
    let mut files = Files::new();
    let mut listing_failed = false;
    loop {
        match list(&dir) {
            Err(e) => {
                // Said once per failure, not every poll; what is enforced stays.
                if !listing_failed {
                    let e = Error::Manifests(e);
                    tracing::warn!(error = %e, "keeping what is enforced");
                    shared.metrics.count(&e);
                }
                listing_failed = true;
                last = None;
            }
            Ok(listing) => {
                listing_failed = false;
                let now = fingerprint(&listing);
                if last.as_ref() != Some(&now) {
                    last = Some(now);
                    let (next, problems) = reload(&listing, &files);
                    report(&shared, &problems);
                    files = next;
                    let changed = shared
                        .feed
                        .store
                        .lock()
                        .expect("lock")
                        .reset_all(objects(&files));
                    shared.feed.mark_synced(Listing::Manifests);
                    if changed {
                        shared.feed.note_change();
                    }
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec: {podSelector: {}}\n";

    fn names(files: &Files) -> Vec<String> {
        objects(files).iter().map(Object::describe).collect()
    }

    #[test]
    fn a_file_that_stops_parsing_keeps_its_objects_until_deleted() {
        let dir = std::env::temp_dir().join(format!("nf-manifests-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.yaml");
        std::fs::write(&file, POLICY).unwrap();
        let (files, problems) = reload(&list(&dir).unwrap(), &Files::new());
        assert!(problems.is_empty());
        assert_eq!(names(&files), ["NetworkPolicy x/deny"]);

        std::fs::write(&file, format!("{POLICY}  bad: [unclosed\n")).unwrap();
        let (files, problems) = reload(&list(&dir).unwrap(), &files);
        assert_eq!(names(&files), ["NetworkPolicy x/deny"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].file_kept);
        assert!(problems[0].line > 0, "{problems:?}");

        std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
        let (files, problems) = reload(&list(&dir).unwrap(), &files);
        assert_eq!(names(&files), ["NetworkPolicy x/deny"]);
        assert_eq!(problems[0].message, "not valid UTF-8 text");

        std::fs::remove_file(&file).unwrap();
        let (files, problems) = reload(&list(&dir).unwrap(), &files);
        assert!(problems.is_empty());
        assert!(names(&files).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_loop_is_an_error_not_an_endless_walk() {
        let dir = std::env::temp_dir().join(format!("nf-manifests-loop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("p.yaml"), POLICY).unwrap();
        std::os::unix::fs::symlink(".", dir.join("a")).unwrap();
        std::os::unix::fs::symlink(".", dir.join("b")).unwrap();
        let err = list(&dir).expect_err("a loop must be reported");
        assert!(err.to_string().contains("directory loop"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
