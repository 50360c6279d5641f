//! Standalone mode: a directory of manifests instead of an API server. The directory is
//! polled; on any change it is read again whole. An object that fails to parse keeps
//! its last valid version enforced.

use crate::state::Shared;
use netfence_model::Object;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const KINDS: [&str; 1] = ["manifests"];

/// Paths, sizes and modification times of the manifest files: changes when any file
/// does.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                out.push((p, m.len(), m.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Polls `dir` every `every` and reloads it on change.
pub async fn run(dir: PathBuf, every: Duration, shared: Arc<Shared>) {
    let mut last = None;
    let mut good: BTreeMap<String, Object> = BTreeMap::new();
    loop {
        let now = fingerprint(&dir);
        if last.as_ref() != Some(&now) {
            last = Some(now);
            let path = dir.display().to_string();
            match netfence_loader::files::load_paths(&[path], "default") {
                Ok(loaded) => {
                    let mut next: BTreeMap<String, Object> = loaded
                        .objects
                        .into_iter()
                        .map(|o| (o.describe(), o))
                        .collect();
                    for e in &loaded.errors {
                        tracing::warn!(error = %e, "skipping invalid object; its last valid version (if any) stays enforced");
                        shared.metrics.error("invalid_object");
                        if let Some(name) = &e.object {
                            if let Some(old) = good.get(name) {
                                next.entry(name.clone()).or_insert_with(|| old.clone());
                            }
                        }
                    }
                    good = next;
                    shared
                        .store
                        .lock()
                        .expect("lock")
                        .replace_all(good.values().cloned().collect());
                    shared.mark_synced("manifests");
                    shared.note_change();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the manifests failed; keeping what is enforced");
                    shared.metrics.error("manifests");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
