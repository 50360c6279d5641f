//! How kinds are named in URLs: the collection path of a kind, and back, the kind served
//! at a path that holds no object to tell.

/// The collection path of a kind, as the API server serves it cluster-wide.
pub fn collection_path(api_version: &str, kind: &str) -> String {
    let plural = plural_of(kind);
    if api_version.contains('/') {
        format!("/apis/{api_version}/{plural}")
    } else {
        format!("/api/{api_version}/{plural}")
    }
}

fn plural_of(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with("ss") || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") {
        format!("{k}es")
    } else if k.ends_with('s') {
        k
    } else if let Some(stem) = k
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

/// The kinds whose camel case a plural cannot tell.
const KNOWN_KINDS: [&str; 13] = [
    "NetworkPolicy",
    "Pod",
    "Namespace",
    "Service",
    "Node",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "ConfigMap",
    "EndpointSlice",
];

/// The kind served at a collection path with no stored object to tell (lists and
/// bookmarks of empty collections).
pub(crate) fn kind_of(plural: &str) -> String {
    let singular = if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        plural.strip_suffix('s').unwrap_or(plural).to_string()
    };
    KNOWN_KINDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&singular))
        .map(|k| k.to_string())
        .unwrap_or_else(|| {
            let mut c = singular.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
}
