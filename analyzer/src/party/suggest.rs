//! "Did you mean": what a name that resolves to nothing may have meant.

use super::{kind_answers, named, NameRef, NameScope};
use netfence_model::Cluster;

/// At most this many suggestions are listed.
const MAX_SUGGESTIONS: usize = 5;

/// The hints for a name not found, each after "; ": the same name in other namespaces,
/// of another kind, or both, close names (edit distance at most 2, or longer names it begins),
/// and where objects written without a namespace went when the name would be there.
pub(super) fn hints(cluster: &Cluster, r: &NameRef, scope: &NameScope) -> String {
    let in_scope = |ns: &str| r.ns.as_deref().is_none_or(|want| want == ns);
    let mut same_name = Vec::new();
    let mut other_kind = Vec::new();
    let mut elsewhere = Vec::new();
    let mut close = Vec::new();
    for (ns, name, f) in named(cluster) {
        let answers = kind_answers(r.kind, f.kind(cluster));
        if name == r.name {
            match (in_scope(ns), answers) {
                (false, true) => same_name.push(f.key(cluster)),
                (true, false) => other_kind.push(f.key(cluster)),
                (false, false) => elsewhere.push(f.key(cluster)),
                (true, true) => {}
            }
        } else if in_scope(ns) && answers && is_close(&r.name, name) {
            close.push(f.key(cluster));
        }
    }
    // Objects without a namespace went to scope.namespace: when the name is among them,
    // say so rather than suggest it as any other namespace's.
    let defaulted_here =
        r.ns.as_deref()
            .filter(|ns| *ns != scope.namespace)
            .and_then(|ns| {
                let placed = &scope.defaulted;
                let count = placed.len();
                let has_name = placed.iter().any(|d| d.name == r.name);
                let objects = if count == 1 { "object" } else { "objects" };
                let into = &scope.namespace;
                if has_name {
                    Some(format!(
                        "; {count} {objects} without a namespace were placed in {into} \
                 ({into}/{} exists): pass -n {ns}",
                        r.name
                    ))
                } else if count > 0 && !named(cluster).any(|(n, _, _)| n == ns) {
                    Some(format!(
                        "; {count} {objects} without a namespace were placed in {into} and \
                 namespace {ns} holds nothing: pass -n {ns} if they belong there"
                    ))
                } else {
                    None
                }
            });
    if defaulted_here.is_some() {
        let placed = format!("{}/", scope.namespace);
        same_name.retain(|k| !k.starts_with(&placed));
        elsewhere.retain(|k| !k.starts_with(&placed));
    }
    close.sort();
    let mut all: Vec<String> = Vec::new();
    for k in same_name
        .into_iter()
        .chain(other_kind)
        .chain(elsewhere)
        .chain(close)
    {
        if !all.contains(&k) {
            all.push(k);
        }
    }
    let mut out = String::new();
    if !all.is_empty() {
        let more = all.len().saturating_sub(MAX_SUGGESTIONS);
        all.truncate(MAX_SUGGESTIONS);
        let listed = match all.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
            [] => unreachable!("not empty"),
        };
        let more = if more > 0 {
            format!(" ({more} more)")
        } else {
            String::new()
        };
        out.push_str(&format!("; did you mean {listed}?{more}"));
    }
    out.extend(defaulted_here);
    out
}

/// Names a typo away (edit distance at most 2), or that the typed name begins.
fn is_close(typed: &str, name: &str) -> bool {
    name.starts_with(typed) || edit_distance(typed, name) <= 2
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            row[j + 1] = substitution.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_prefix() {
        assert_eq!(edit_distance("frontend", "frontend"), 0);
        assert_eq!(edit_distance("fronted", "frontend"), 1);
        assert_eq!(edit_distance("api", "db"), 3);
        assert!(is_close("argocd-ser", "argocd-server"));
        assert!(is_close("fornt", "front"));
        assert!(!is_close("api", "redis"));
    }
}
