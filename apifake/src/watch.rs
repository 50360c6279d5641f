//! Starting watches and keeping the open ones: what a watch is sent first (replayed
//! history, the current state, or a 410 for a version too old), and which changes and
//! injected ends each open watch has waiting. [`crate::watch_stream`] sends them.

use crate::event::{bookmark_line, event_line};
use crate::query;
use crate::route::{Reply, Resource};
use crate::status::status;
use crate::store::{Change, Store};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The default interval between BOOKMARK events on a watch that allows them.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_millis(200);

/// How long a watch without `timeoutSeconds` lasts (kube-apiserver's minRequestTimeout).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// How the fake answers a watch whose resourceVersion is older than the retained history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpiredWatch {
    /// `200 OK`, then one ERROR event whose object is a `Status` with code 410 and
    /// reason `Expired` ("too old resource version: RV (OLDEST)"), then the end of the
    /// stream. This is what kube-apiserver does, from its watch cache and from etcd alike.
    #[default]
    ErrorEvent,
    /// `410 Gone` with the same `Status` as body, before any stream starts.
    HttpGone,
}

/// An end injected into open watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchEnd {
    /// Close the connection abruptly (no terminating chunk).
    Drop,
    /// Send an ERROR event with a 410 Status, then end the stream.
    Expire,
    /// Send what is queued, then end the stream gracefully, as the API server ends the
    /// watches of a resource whose CRD is deleted.
    Close,
}

/// An open watch, as the mutators see it.
struct OpenWatch {
    collection: String,
    namespace: Option<String>,
    /// Only events after this resourceVersion are queued.
    after: u64,
    /// Event lines waiting to be sent.
    queue: Vec<Bytes>,
    end: Option<WatchEnd>,
}

/// The open watches, by id, and the settings every watch follows.
pub(crate) struct Watches {
    open: BTreeMap<u64, OpenWatch>,
    next_id: u64,
    pub(crate) bookmark_interval: Option<Duration>,
    /// A cap on every watch's duration, whatever its `timeoutSeconds`.
    pub(crate) max_duration: Option<Duration>,
    pub(crate) expired: ExpiredWatch,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            open: BTreeMap::new(),
            next_id: 0,
            bookmark_interval: Some(DEFAULT_BOOKMARK_INTERVAL),
            max_duration: None,
            expired: ExpiredWatch::default(),
        }
    }
}

impl Watches {
    /// Queues a change on every open watch it concerns; none once an end is injected.
    pub(crate) fn offer(&mut self, change: &Change) {
        for w in self.open.values_mut() {
            if w.collection == change.collection
                && w.end.is_none()
                && change.rv > w.after
                && w.namespace
                    .as_ref()
                    .is_none_or(|ns| *ns == change.namespace)
            {
                w.queue.push(change.line.clone());
            }
        }
    }

    /// Ends every open watch that has no end yet.
    pub(crate) fn end_all(&mut self, end: WatchEnd) {
        for w in self.open.values_mut() {
            w.end.get_or_insert(end);
        }
    }

    /// Ends the open watches of one collection (see [`WatchEnd::Close`]).
    pub(crate) fn close(&mut self, collection: &str) {
        for w in self.open.values_mut() {
            if w.collection == collection {
                w.end.get_or_insert(WatchEnd::Close);
            }
        }
    }

    /// The lines queued on a watch since the last take, and its injected end if any;
    /// `None` when the watch is no longer registered.
    pub(crate) fn take(&mut self, id: u64) -> Option<(Vec<Bytes>, Option<WatchEnd>)> {
        let w = self.open.get_mut(&id)?;
        Some((std::mem::take(&mut w.queue), w.end))
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.open.remove(&id);
    }

    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }
}

/// A watch registered in [`Watches`], ready to stream.
pub(crate) struct WatchPlan {
    pub(crate) id: u64,
    /// Lines to send first (replayed history, synthetic ADDED, initial-events-end).
    pub(crate) initial: Vec<Bytes>,
    /// End the stream after `initial` (an expired watch).
    pub(crate) end_after_initial: bool,
    /// The apiVersion and kind of its BOOKMARKs.
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) bookmarks: bool,
    pub(crate) deadline: Instant,
}

/// Answers `?watch=true` on `res`: registers the watch and plans its first lines, or
/// refuses it (a bad resourceVersion, or an expired one with [`ExpiredWatch::HttpGone`]).
pub(crate) fn start(store: &Store, watches: &mut Watches, res: Resource, query: &str) -> Reply {
    let bookmarks = query::flag(query, "allowWatchBookmarks");
    let rv_param = query::param(query, "resourceVersion").unwrap_or_default();
    let from = match rv_param.as_str() {
        "" | "0" => None,
        v => match v.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => {
                let msg = format!("invalid resource version: {v}");
                return Reply::Json(400, status(400, "BadRequest", &msg));
            }
        },
    };
    let mut initial = Vec::new();
    let mut end_after_initial = false;
    let namespace = res.namespace;
    let floor = store.floor(&res.collection);
    match from {
        None => {
            // Start at the current state: synthetic ADDED for every object.
            for o in store.current(&res.collection, namespace.as_deref()) {
                initial.push(event_line("ADDED", &o));
            }
            if query::flag(query, "sendInitialEvents") && bookmarks {
                let rv = store.resource_version();
                initial.push(bookmark_line(&res.api_version, &res.kind, rv, true));
            }
        }
        Some(rv) if rv < floor => {
            let msg = format!("too old resource version: {rv} ({floor})");
            let st = status(410, "Expired", &msg);
            if watches.expired == ExpiredWatch::HttpGone {
                return Reply::Json(410, st);
            }
            initial.push(event_line("ERROR", &st));
            end_after_initial = true;
        }
        Some(rv) => {
            initial = store.history_after(&res.collection, rv, namespace.as_deref());
        }
    }
    let timeout = query::param(query, "timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    let timeout = watches.max_duration.map_or(timeout, |m| timeout.min(m));
    watches.next_id += 1;
    let id = watches.next_id;
    // Whatever is after the current version arrives through the queue; the initial
    // lines cover the rest.
    let after = store.resource_version().max(from.unwrap_or(0));
    watches.open.insert(
        id,
        OpenWatch {
            collection: res.collection.clone(),
            namespace,
            after,
            queue: Vec::new(),
            end: None,
        },
    );
    Reply::Watch(WatchPlan {
        id,
        initial,
        end_after_initial,
        api_version: res.api_version,
        kind: res.kind,
        bookmarks,
        deadline: Instant::now() + timeout,
    })
}
