//! The objects, per collection, under one global resourceVersion as etcd keeps them, and
//! the retained history of changes that watches replay from.

use crate::event::{event_line, EventType};
use crate::kinds::collection_path;
use crate::timestamp::now_rfc3339;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// A change as retained for watches that start from before it.
struct HistoryEvent {
    rv: u64,
    namespace: String,
    line: Bytes,
}

struct Collection {
    /// By (namespace, name): etcd's key order, which lists follow.
    objects: BTreeMap<(String, String), Value>,
    /// Events after `floor`, oldest first.
    history: VecDeque<HistoryEvent>,
    /// Events up to and including this resourceVersion are no longer retained.
    floor: u64,
}

impl Collection {
    /// Drops the oldest events beyond `max`, raising the floor past them.
    fn trim(&mut self, max: usize) {
        while self.history.len() > max {
            let old = self.history.pop_front().expect("non-empty");
            self.floor = self.floor.max(old.rv);
        }
    }
}

/// A change just stored, for the open watches to be told of.
pub(crate) struct Change {
    pub(crate) collection: String,
    pub(crate) rv: u64,
    pub(crate) namespace: String,
    pub(crate) line: Bytes,
}

#[derive(Default)]
pub(crate) struct Store {
    collections: BTreeMap<String, Collection>,
    resource_version: u64,
    uids: u64,
    /// Watches from below this resourceVersion are expired, in every collection.
    compacted: u64,
    /// Events kept per collection (`None`: all).
    max_history: Option<usize>,
}

fn object_key(o: &Value) -> (String, String) {
    let m = &o["metadata"];
    (
        m["namespace"].as_str().unwrap_or_default().to_string(),
        m["name"].as_str().unwrap_or_default().to_string(),
    )
}

impl Store {
    /// The current (latest) resourceVersion.
    pub(crate) fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The collection for an object, created on first use; a new one starts at the
    /// compaction floor, so that it cannot replay what was compacted away.
    fn collection_for(&mut self, path: &str) -> &mut Collection {
        let floor = self.compacted;
        self.collections
            .entry(path.to_string())
            .or_insert_with(|| Collection {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                floor,
            })
    }

    /// Retains a change in its collection's history (trimmed) and hands it back.
    fn record(&mut self, path: &str, rv: u64, ty: EventType, object: &Value) -> Change {
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let line = event_line(ty.as_str(), object);
        let max = self.max_history;
        let c = self.collections.get_mut(path).expect("collection exists");
        c.history.push_back(HistoryEvent {
            rv,
            namespace: namespace.clone(),
            line: line.clone(),
        });
        if let Some(max) = max {
            c.trim(max);
        }
        Change {
            collection: path.to_string(),
            rv,
            namespace,
            line,
        }
    }

    /// Creates or replaces an object at a new resourceVersion; `uid` and
    /// `creationTimestamp` are kept from the replaced object, or made up, when absent.
    pub(crate) fn apply(&mut self, mut obj: Value) -> Change {
        let api = obj["apiVersion"].as_str().unwrap_or("v1").to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        self.resource_version += 1;
        let rv = self.resource_version;
        let key = object_key(&obj);
        let path = collection_path(&api, &kind);
        let previous = self.collection_for(&path).objects.get(&key).cloned();
        let meta = &mut obj["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
        for field in ["uid", "creationTimestamp"] {
            if meta[field].is_null() {
                if let Some(old) = previous.as_ref().map(|p| &p["metadata"][field]) {
                    meta[field] = old.clone();
                }
            }
        }
        if meta["uid"].is_null() {
            self.uids += 1;
            meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.uids));
        }
        if meta["creationTimestamp"].is_null() {
            meta["creationTimestamp"] = json!(now_rfc3339());
        }
        let ty = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        let change = self.record(&path, rv, ty, &obj);
        self.collections
            .get_mut(&path)
            .expect("collection exists")
            .objects
            .insert(key, obj);
        change
    }

    /// Deletes an object; its last state, at the new resourceVersion, is the change.
    pub(crate) fn delete(&mut self, path: &str, namespace: &str, name: &str) -> Option<Change> {
        let key = (namespace.to_string(), name.to_string());
        let mut obj = self.collections.get_mut(path)?.objects.remove(&key)?;
        self.resource_version += 1;
        let rv = self.resource_version;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        Some(self.record(path, rv, EventType::Deleted, &obj))
    }

    /// Forgets every retained event, as an etcd compaction at the current version.
    pub(crate) fn compact(&mut self) {
        self.compacted = self.resource_version;
        for c in self.collections.values_mut() {
            c.history.clear();
            c.floor = self.resource_version;
        }
    }

    pub(crate) fn set_max_history(&mut self, max: Option<usize>) {
        self.max_history = max;
        if let Some(max) = max {
            for c in self.collections.values_mut() {
                c.trim(max);
            }
        }
    }

    /// The oldest resourceVersion a watch on `path` may start from.
    pub(crate) fn floor(&self, path: &str) -> u64 {
        self.collections
            .get(path)
            .map_or(0, |c| c.floor)
            .max(self.compacted)
    }

    /// Retained event lines of `path` after `rv`, in `namespace` if given, oldest first.
    pub(crate) fn history_after(&self, path: &str, rv: u64, namespace: Option<&str>) -> Vec<Bytes> {
        self.collections
            .get(path)
            .map(|c| {
                c.history
                    .iter()
                    .filter(|e| e.rv > rv && namespace.is_none_or(|n| n == e.namespace))
                    .map(|e| e.line.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One stored object; `namespace` is "" for cluster-scoped kinds.
    pub(crate) fn get(&self, path: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.collections
            .get(path)?
            .objects
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// The objects of a collection, in `namespace` if given, in list order.
    pub(crate) fn current(&self, path: &str, namespace: Option<&str>) -> Vec<Value> {
        self.collections
            .get(path)
            .map(|c| {
                c.objects
                    .iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
