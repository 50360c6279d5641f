//! Which resources the fake serves: the built-in ones it knows, always, and those of the
//! CustomResourceDefinitions installed at runtime ([`crate::ApiFake::install_crd`]).
//! A collection path outside both is answered 404, as the API server answers a group,
//! version or resource it does not serve; discovery ([`crate::discovery`]) lists exactly
//! these.

use crate::kinds::{collection_path, plural_of};
use std::collections::{BTreeMap, BTreeSet};

/// Whether a kind's objects live in namespaces (discovery's `namespaced`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// One served resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Served {
    /// `v1` or `group/version`.
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) plural: String,
    pub(crate) scope: Scope,
}

impl Served {
    fn new(api_version: &str, kind: &str, scope: Scope) -> Served {
        Served {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural_of(kind),
            scope,
        }
    }

    /// The group ("" for the core group) and the version.
    pub(crate) fn group_version(&self) -> (&str, &str) {
        self.api_version
            .split_once('/')
            .unwrap_or(("", &self.api_version))
    }
}

/// The built-in kinds served (those netfence reads, and a few more tests use), with their
/// scope. Their plurals follow the English rules of [`plural_of`], as these kinds' do.
const BUILT_IN: [(&str, &str, Scope); 13] = [
    ("v1", "Namespace", Scope::Cluster),
    ("v1", "Node", Scope::Cluster),
    ("v1", "Pod", Scope::Namespaced),
    ("v1", "Service", Scope::Namespaced),
    ("v1", "ConfigMap", Scope::Namespaced),
    ("v1", "ReplicationController", Scope::Namespaced),
    ("apps/v1", "Deployment", Scope::Namespaced),
    ("apps/v1", "ReplicaSet", Scope::Namespaced),
    ("apps/v1", "StatefulSet", Scope::Namespaced),
    ("apps/v1", "DaemonSet", Scope::Namespaced),
    ("batch/v1", "Job", Scope::Namespaced),
    ("batch/v1", "CronJob", Scope::Namespaced),
    ("networking.k8s.io/v1", "NetworkPolicy", Scope::Namespaced),
];

/// The served resources, by collection path.
pub(crate) struct Resources {
    served: BTreeMap<String, Served>,
    /// The collection paths that came from an installed CRD (the others are built in).
    custom: BTreeSet<String>,
}

impl Default for Resources {
    fn default() -> Self {
        let served = BUILT_IN
            .iter()
            .map(|(api, kind, scope)| (collection_path(api, kind), Served::new(api, kind, *scope)))
            .collect();
        Resources {
            served,
            custom: BTreeSet::new(),
        }
    }
}

impl Resources {
    /// The resource served at a collection path, if any.
    pub(crate) fn at(&self, collection: &str) -> Option<&Served> {
        self.served.get(collection)
    }

    /// Serves a CRD's kind at `api_version`; returns its collection path. Installing it
    /// again changes nothing.
    ///
    /// # Panics
    /// If `api_version` and `kind` name a built-in resource (a CRD cannot replace one).
    pub(crate) fn install(&mut self, api_version: &str, kind: &str, scope: Scope) -> String {
        let path = collection_path(api_version, kind);
        assert!(
            !self.served.contains_key(&path) || self.custom.contains(&path),
            "{kind} {api_version} is built in: no CRD can define it"
        );
        self.served
            .insert(path.clone(), Served::new(api_version, kind, scope));
        self.custom.insert(path.clone());
        path
    }

    /// Whether a CRD serves the collection (not a built-in resource).
    pub(crate) fn is_custom(&self, collection: &str) -> bool {
        self.custom.contains(collection)
    }

    /// Stops serving a CRD's kind; whether it was installed.
    pub(crate) fn remove(&mut self, collection: &str) -> bool {
        if !self.custom.remove(collection) {
            return false;
        }
        self.served.remove(collection);
        true
    }

    /// Every served resource, in collection path order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Served> {
        self.served.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_come_and_go_and_built_ins_stay() {
        let mut r = Resources::default();
        assert_eq!(r.at("/api/v1/pods").map(|s| s.kind.as_str()), Some("Pod"));
        let cnp = "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies";
        assert!(r.at(cnp).is_none());
        let path = r.install(
            "policy.networking.k8s.io/v1alpha2",
            "ClusterNetworkPolicy",
            Scope::Cluster,
        );
        assert_eq!(path, cnp);
        let served = r.at(cnp).unwrap();
        assert_eq!(served.kind, "ClusterNetworkPolicy");
        assert_eq!(
            served.group_version(),
            ("policy.networking.k8s.io", "v1alpha2")
        );
        assert!(r.remove(cnp));
        assert!(!r.remove(cnp));
        assert!(r.at(cnp).is_none());
        assert!(!r.remove("/api/v1/pods"), "built-ins are not CRDs");
        assert!(r.at("/api/v1/pods").is_some());
    }
}
