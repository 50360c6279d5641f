//! Everything the fake knows, under one lock shared by the test thread and the serving
//! tasks, with a signal for the tasks to look again.

use crate::faults::Faults;
use crate::list::Snapshots;
use crate::store::Store;
use crate::watch::Watches;
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct State {
    pub(crate) store: Store,
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
    pub(crate) fn apply(&mut self, obj: Value) -> u64 {
        let change = self.store.apply(obj);
        self.watches.offer(&change);
        change.rv
    }

    pub(crate) fn delete(&mut self, path: &str, namespace: &str, name: &str) -> Option<u64> {
        let change = self.store.delete(path, namespace, name)?;
        self.watches.offer(&change);
        Some(change.rv)
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
