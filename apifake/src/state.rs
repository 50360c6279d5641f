//! Everything the fake knows, under one lock shared by the test thread and the serving
//! tasks, with a signal for the tasks to look again.

use crate::faults::Faults;
use crate::kinds::collection_path;
use crate::list::Snapshots;
use crate::resources::{Resources, Scope};
use crate::store::Store;
use crate::watch::Watches;
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    /// What is served: built-in resources and installed CRDs.
    pub(crate) resources: Resources,
    pub(crate) snapshots: Snapshots,
    pub(crate) watches: Watches,
    pub(crate) faults: Faults,
    /// Request lines received so far.
    pub(crate) requests: Vec<String>,
    /// The fake was dropped: stop accepting.
    pub(crate) shutdown: bool,
}

impl State {
    /// Stores an object and queues the change on the watches; its resourceVersion.
    ///
    /// # Panics
    /// If its kind is not served (a CRD kind before [`State::install_crd`]): the API
    /// server would refuse it, and a test storing it would test nothing.
    pub(crate) fn apply(&mut self, obj: Value) -> u64 {
        let api = obj["apiVersion"].as_str().unwrap_or("v1");
        let kind = obj["kind"].as_str().unwrap_or_default();
        let path = collection_path(api, kind);
        assert!(
            self.resources.at(&path).is_some(),
            "the fake does not serve {kind} {api} ({path}): install its CRD first"
        );
        let change = self.store.apply(obj);
        self.watches.offer(&change);
        change.rv
    }

    pub(crate) fn delete(&mut self, path: &str, namespace: &str, name: &str) -> Option<u64> {
        let change = self.store.delete(path, namespace, name)?;
        self.watches.offer(&change);
        Some(change.rv)
    }

    /// Serves a CRD's kind from now on (see [`crate::ApiFake::install_crd`]).
    pub(crate) fn install_crd(&mut self, api_version: &str, kind: &str, scope: Scope) {
        self.resources.install(api_version, kind, scope);
    }

    /// Deletes a CRD: its objects first (a DELETED event each, as the CRD's cleanup
    /// finalizer deletes them), then its open watches end and its paths are no longer
    /// served. Whether it was installed.
    pub(crate) fn remove_crd(&mut self, api_version: &str, kind: &str) -> bool {
        let path = collection_path(api_version, kind);
        if !self.resources.is_custom(&path) {
            return false;
        }
        for o in self.store.current(&path, None) {
            let m = &o["metadata"];
            let ns = m["namespace"].as_str().unwrap_or_default();
            let name = m["name"].as_str().unwrap_or_default();
            self.delete(&path, ns, name);
        }
        self.watches.close(&path);
        self.resources.remove(&path)
    }

    /// An etcd compaction: history and list snapshots go; open watches go on.
    pub(crate) fn compact(&mut self) {
        self.store.compact();
        self.snapshots.clear();
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped on every change the serving tasks may need to react to.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(state: State) -> Shared {
        Shared {
            state: Mutex::new(state),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// The state; a panic elsewhere while it was held does not poison it for the tests.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
