//! The discovery documents, from the resources served now: `/api` (APIVersions), `/apis`
//! (APIGroupList), `/apis/GROUP` (APIGroup) and `/api/v1`, `/apis/GROUP/VERSION`
//! (APIResourceList). A group or version that nothing is served at is answered 404, as
//! the API server answers one whose last CRD is gone.

use crate::resources::{Resources, Scope, Served};
use crate::status::status;
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// How Kubernetes ranks versions (`k8s.io/apimachinery` version priority): GA before
/// beta before alpha, higher numbers first; anything else last, by name.
fn priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(major) = rest[..digits].parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits..];
    let level = |prefix: &str, rank: u8| {
        tail.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .map(|minor| (rank, major, minor))
    };
    if tail.is_empty() {
        return (3, major, 0);
    }
    level("beta", 2)
        .or_else(|| level("alpha", 1))
        .unwrap_or((0, 0, 0))
}

/// The versions served of each group ("" is the core group), the preferred one first.
fn groups(resources: &Resources) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in resources.all() {
        let (group, version) = s.group_version();
        let versions = groups.entry(group.to_string()).or_default();
        if !versions.iter().any(|v| v == version) {
            versions.push(version.to_string());
        }
    }
    for versions in groups.values_mut() {
        versions.sort_by_key(|v| (Reverse(priority(v)), v.clone()));
    }
    groups
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({"name": name, "versions": versions.iter().map(gv).collect::<Vec<_>>(),
           "preferredVersion": gv(&versions[0])})
}

fn resource_doc(s: &Served) -> Value {
    json!({"name": s.plural, "singularName": s.kind.to_ascii_lowercase(),
           "namespaced": s.scope == Scope::Namespaced, "kind": s.kind,
           // What the fake answers (it serves only GET).
           "verbs": ["get", "list", "watch"]})
}

fn resource_list(resources: &Resources, group_version: &str) -> Option<Value> {
    let served: Vec<Value> = resources
        .all()
        .filter(|s| s.api_version == group_version)
        .map(resource_doc)
        .collect();
    (!served.is_empty()).then(|| {
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
               "resources": served})
    })
}

fn not_found(path: &str) -> (u16, Value) {
    let msg = format!("the server could not find the requested resource ({path})");
    (404, status(404, "NotFound", &msg))
}

/// The answer to a discovery path, or `None` for a path that is no discovery document
/// (a collection or an object).
pub(crate) fn answer(resources: &Resources, path: &str) -> Option<(u16, Value)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let found = |doc: Option<Value>| Some(doc.map_or_else(|| not_found(path), |d| (200, d)));
    match segs.as_slice() {
        ["api"] => found(Some(json!({"kind": "APIVersions", "versions": ["v1"],
                                     "serverAddressByClientCIDRs": []}))),
        ["api", version] => found(resource_list(resources, version)),
        ["apis"] => {
            let groups: Vec<Value> = groups(resources)
                .iter()
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, versions)| group_doc(name, versions))
                .collect();
            found(Some(
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            ))
        }
        ["apis", group] => found(groups(resources).get(*group).map(|versions| {
            let mut doc = group_doc(group, versions);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            doc
        })),
        ["apis", group, version] => found(resource_list(resources, &format!("{group}/{version}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_rank_as_kubernetes_ranks_them() {
        let mut v = [
            "v1alpha1", "v2", "v1beta1", "v1", "v1alpha2", "v10beta3", "foo",
        ]
        .map(String::from)
        .to_vec();
        v.sort_by_key(|v| (Reverse(priority(v)), v.clone()));
        assert_eq!(
            v,
            ["v2", "v1", "v10beta3", "v1beta1", "v1alpha2", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn a_group_is_discovered_while_a_crd_serves_it() {
        let mut r = Resources::default();
        let group = "/apis/policy.networking.k8s.io";
        assert_eq!(answer(&r, group).unwrap().0, 404);
        assert_eq!(answer(&r, &format!("{group}/v1alpha1")).unwrap().0, 404);
        let anp = r.install(
            "policy.networking.k8s.io/v1alpha1",
            "AdminNetworkPolicy",
            Scope::Cluster,
        );
        r.install(
            "policy.networking.k8s.io/v1alpha2",
            "ClusterNetworkPolicy",
            Scope::Cluster,
        );
        let (code, doc) = answer(&r, group).unwrap();
        assert_eq!(code, 200);
        assert_eq!(doc["kind"], "APIGroup");
        assert_eq!(doc["preferredVersion"]["version"], "v1alpha2");
        assert_eq!(doc["versions"].as_array().unwrap().len(), 2);
        let (_, list) = answer(&r, &format!("{group}/v1alpha1")).unwrap();
        assert_eq!(list["resources"][0]["name"], "adminnetworkpolicies");
        assert_eq!(list["resources"][0]["kind"], "AdminNetworkPolicy");
        assert_eq!(list["resources"][0]["namespaced"], false);
        let (_, all) = answer(&r, "/apis").unwrap();
        let names: Vec<&str> = all["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "batch",
                "networking.k8s.io",
                "policy.networking.k8s.io"
            ]
        );
        r.remove(&anp);
        assert_eq!(answer(&r, &format!("{group}/v1alpha1")).unwrap().0, 404);
        let (_, doc) = answer(&r, group).unwrap();
        assert_eq!(doc["versions"].as_array().unwrap().len(), 1);
        let (_, core) = answer(&r, "/api/v1").unwrap();
        assert!(core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "nodes" && r["namespaced"] == false));
        assert!(answer(&r, "/api/v1/pods").is_none());
    }
}
