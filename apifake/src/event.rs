//! Watch events as they go on the wire: one JSON object and a newline each. Lines are
//! rendered once, when the change happens, and shared by the history and every watch.

use bytes::Bytes;
use serde_json::{json, Value};

/// The type of a change to a stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A watch event line of any type (`ADDED`, ..., `BOOKMARK`, `ERROR`).
pub(crate) fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    line.into()
}

/// A BOOKMARK at `rv`; `initial_end` marks the end of a streaming list's initial events.
pub(crate) fn bookmark_line(api_version: &str, kind: &str, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}),
    )
}
