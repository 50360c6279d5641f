//! Lists: every page of a `limit`/`continue` sequence comes from the snapshot taken by
//! the first one, at its resourceVersion, as etcd serves paged lists; a token whose
//! snapshot is gone (compacted, or pushed out) is answered 410 Gone.

use crate::query;
use crate::route::{Reply, Resource};
use crate::status::status;
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Snapshots kept for `continue` tokens; older ones expire (410 on continue).
const MAX_SNAPSHOTS: usize = 64;

/// A consistent list in progress.
struct Snapshot {
    rv: u64,
    items: Arc<Vec<Value>>,
}

/// The snapshots behind the `continue` tokens handed out, by id.
#[derive(Default)]
pub(crate) struct Snapshots {
    kept: BTreeMap<u64, Snapshot>,
    next_id: u64,
}

impl Snapshots {
    /// Expires every token, as a compaction does.
    pub(crate) fn clear(&mut self) {
        self.kept.clear();
    }

    fn keep(&mut self, rv: u64, items: Arc<Vec<Value>>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.kept.insert(id, Snapshot { rv, items });
        while self.kept.len() > MAX_SNAPSHOTS {
            self.kept.pop_first();
        }
        id
    }
}

/// A token is `ID-OFFSET`: the snapshot and the index of the next item.
fn parse_token(token: &str) -> Option<(u64, usize)> {
    let (id, offset) = token.split_once('-')?;
    Some((id.parse().ok()?, offset.parse().ok()?))
}

/// Answers a list of `res` (a collection, cluster-wide or in a namespace).
pub(crate) fn list(store: &Store, snapshots: &mut Snapshots, res: &Resource, query: &str) -> Reply {
    let (api_version, kind) = (&res.api_version, &res.kind);
    let token = query::param(query, "continue").filter(|c| !c.is_empty());
    let (rv, items, start, snapshot_id) = match token {
        Some(token) => {
            let Some((id, offset)) = parse_token(&token) else {
                return Reply::Json(400, status(400, "BadRequest", "invalid continue token"));
            };
            let Some(snap) = snapshots.kept.get(&id) else {
                let msg = "The provided continue parameter is too old to display a consistent \
                           list result. You can start a new list without the continue parameter.";
                return Reply::Json(410, status(410, "Expired", msg));
            };
            (snap.rv, snap.items.clone(), offset, id)
        }
        None => (
            store.resource_version(),
            Arc::new(store.current(&res.collection, res.namespace.as_deref())),
            0,
            0,
        ),
    };
    let limit: usize = query::param(query, "limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let start = start.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let page: Vec<Value> = items[start..end].to_vec();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    let remaining = items.len() - end;
    if remaining > 0 {
        // A first page takes the snapshot; later ones go on with the token's.
        let id = if start == 0 {
            snapshots.keep(rv, items)
        } else {
            snapshot_id
        };
        metadata["continue"] = json!(format!("{id}-{end}"));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Reply::Json(
        200,
        json!({"apiVersion": api_version, "kind": format!("{kind}List"),
               "metadata": metadata, "items": page}),
    )
}
