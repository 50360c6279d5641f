//! What a request asks for: the API paths served (`/version`, discovery, collections,
//! objects, cluster-wide and namespaced) and which of get, list or watch answers it.
//! Collections of resources not served now ([`crate::resources`]) are answered 404.

use crate::state::State;
use crate::status::{reason_of, status};
use crate::{discovery, list, query, watch};
use serde_json::{json, Value};

/// What a request path names, of a resource served.
pub(crate) struct Resource {
    /// The cluster-wide collection path (`/api/v1/pods`), namespaced or not.
    pub(crate) collection: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    /// The apiVersion and kind served there (of lists and bookmarks).
    pub(crate) api_version: String,
    pub(crate) kind: String,
}

/// A collection or object path: (collection, namespace, name).
type Target = (String, Option<String>, Option<String>);

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let prefix_len = match segs.first() {
        Some(&"api") => 2,
        Some(&"apis") => 3,
        _ => return None,
    };
    if segs.len() <= prefix_len || segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let prefix = segs[..prefix_len].join("/");
    let (plural, namespace, name) = match &segs[prefix_len..] {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, None, Some(*name)),
        ["namespaces", ns, plural] => (*plural, Some(*ns), None),
        ["namespaces", ns, plural, name] => (*plural, Some(*ns), Some(*name)),
        _ => return None,
    };
    Some((
        format!("/{prefix}/{plural}"),
        namespace.map(str::to_string),
        name.map(str::to_string),
    ))
}

/// How to answer a request.
pub(crate) enum Reply {
    /// A status code and a JSON body.
    Json(u16, Value),
    /// A registered watch to stream.
    Watch(watch::WatchPlan),
}

fn version_info() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-apifake",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
           "platform": "linux/amd64"})
}

/// Answers `method target` (`target` is the path and query, as on the request line).
/// Injected failures come first, whatever the request.
pub(crate) fn respond(s: &mut State, method: &str, target: &str) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(code) = s.faults.take_failure(target) {
        let body = status(code, reason_of(code), &format!("injected failure {code}"));
        return Reply::Json(code, body);
    }
    if method != "GET" {
        let msg = format!("the fake serves only GET, not {method}");
        return Reply::Json(405, status(405, "MethodNotAllowed", &msg));
    }
    if path == "/version" {
        return Reply::Json(200, version_info());
    }
    if let Some((code, doc)) = discovery::answer(&s.resources, path) {
        return Reply::Json(code, doc);
    }
    let served = parse_path(path).and_then(|(collection, namespace, name)| {
        let served = s.resources.at(&collection)?;
        Some(Resource {
            api_version: served.api_version.clone(),
            kind: served.kind.clone(),
            collection,
            namespace,
            name,
        })
    });
    let Some(res) = served else {
        let msg = format!("the server could not find the requested resource ({path})");
        return Reply::Json(404, status(404, "NotFound", &msg));
    };
    if let Some(name) = &res.name {
        let namespace = res.namespace.as_deref().unwrap_or_default();
        return match s.store.get(&res.collection, namespace, name) {
            Some(o) => Reply::Json(200, o.clone()),
            None => {
                let plural = res.collection.rsplit('/').next().unwrap_or_default();
                let msg = format!("{plural} \"{name}\" not found");
                let mut st = status(404, "NotFound", &msg);
                st["details"] = json!({"name": name, "kind": plural});
                Reply::Json(404, st)
            }
        };
    }
    if query::flag(query, "watch") {
        return watch::start(&s.store, &mut s.watches, res, query);
    }
    list::list(&s.store, &mut s.snapshots, &res, query)
}
