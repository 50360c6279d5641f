//! Cluster-wide watches of Pods, Namespaces, NetworkPolicies and Nodes (peers can be
//! anywhere; Nodes for the `nodes` peers of tiered policies), feeding the object store,
//! and of the tiered policies while their CRDs are served ([`crate::crds`]).
//! kube-runtime's watcher relists after 410 Gone and reconnects after disconnects, with
//! backoff; a relist replaces the kind's objects. Also this node's own Node object, whose
//! pod CIDRs bound the unprogrammed-pod guard.

use crate::crds;
use crate::error::Error;
use crate::state::{Listing, Shared};
use crate::store::{Decoded, Key, Kind, Stored};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use netfence_loader::cluster::decode_resource;
use netfence_model::ManifestError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// The kinds always watched (each must be synced before anything is applied).
pub const WATCHED: [Kind; 4] = [Kind::Namespace, Kind::Pod, Kind::NetworkPolicy, Kind::Node];

/// What must be listed before anything is applied with an API server: the kinds always
/// watched, and the first discovery of the tiered kinds (which adds the watches of those
/// served then). Not this node's Node object: that is the guard's ([`Listing::Node`]).
pub fn listings() -> Vec<Listing> {
    WATCHED
        .iter()
        .map(|k| Listing::Watch(*k))
        .chain([Listing::Discovery])
        .collect()
}

/// Logs the errors of an object the model refuses, and counts the object once.
fn report_invalid(shared: &Shared, kind: Kind, name: &str, errors: Vec<ManifestError>) {
    let mut counted = false;
    for e in errors {
        let e = Error::InvalidObject(e);
        tracing::warn!(kind = kind.as_str(), object = name, error = %e, "skipping invalid object; its last valid version (if any) stays enforced");
        if !counted {
            shared.metrics.count(&e);
            counted = true;
        }
    }
}

/// A typed object's key in the store.
fn key_of<K: Resource>(kind: Kind, obj: &K) -> Key {
    let meta = obj.meta();
    (
        kind,
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// An object's key in the store, and what the model's decoder makes of it (the loader's
/// one path from API objects to model objects); `dt` is its kind's dynamic type.
fn decoded<K>(kind: Kind, obj: &K, dt: &K::DynamicType) -> (Key, Decoded)
where
    K: Resource + Serialize,
{
    let key = key_of(kind, obj);
    let decoded = match decode_resource(obj, dt, "default") {
        Ok(parsed) => Decoded::from_parsed(parsed),
        Err(e) => Decoded::Invalid(vec![e]),
    };
    (key, decoded)
}

/// Watches every object of `api` (of `kind`, whose dynamic type is `dt`: `()` for
/// k8s-openapi types) into the store, until the process ends or the task is aborted.
pub(crate) async fn watch_kind<K>(api: Api<K>, dt: K::DynamicType, shared: Arc<Shared>, kind: Kind)
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
{
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    // During a relist: what it gave so far (it replaces the kind's objects when done).
    let mut relist: Option<Vec<(Key, Decoded)>> = None;
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(Event::Init) => {
                relist = Some(Vec::new());
                false
            }
            Ok(Event::InitApply(obj)) => {
                let (key, decoded) = decoded(kind, &obj, &dt);
                if let Decoded::Invalid(errors) = &decoded {
                    report_invalid(&shared, kind, &key.2, errors.clone());
                }
                relist.get_or_insert_with(Vec::new).push((key, decoded));
                false
            }
            Ok(Event::Apply(obj)) => {
                let (key, decoded) = decoded(kind, &obj, &dt);
                let name = key.2.clone();
                let stored = shared.feed.store.lock().expect("lock").apply(key, decoded);
                match stored {
                    Stored::Changed => true,
                    Stored::Unchanged => false,
                    Stored::Invalid(errors) => {
                        report_invalid(&shared, kind, &name, errors);
                        false
                    }
                }
            }
            Ok(Event::Delete(obj)) => {
                let key = key_of(kind, &obj);
                let stored = shared.feed.store.lock().expect("lock").delete(&key);
                stored == Stored::Changed
            }
            Ok(Event::InitDone) => {
                let listed = relist.take().unwrap_or_default();
                let changed = shared.feed.store.lock().expect("lock").reset(kind, listed);
                shared.feed.mark_synced(Listing::Watch(kind));
                tracing::info!(kind = kind.as_str(), "synced");
                changed
            }
            Err(e) => {
                let e = Error::Watch {
                    kind: kind.as_str(),
                    source: e,
                };
                tracing::warn!(error = %e, "watch failed; retrying with backoff");
                shared.metrics.count(&e);
                false
            }
        };
        if changed {
            shared.feed.note_change();
        }
    }
}

/// `spec.podCIDRs`, else `spec.podCIDR` (clusters before dual stack); invalid entries
/// are logged and left out.
fn pod_cidrs(node: &Node) -> Vec<ipnet::IpNet> {
    let spec = node.spec.clone().unwrap_or_default();
    let listed = spec
        .pod_cidrs
        .filter(|c| !c.is_empty())
        .or_else(|| spec.pod_cidr.map(|c| vec![c]))
        .unwrap_or_default();
    listed
        .iter()
        .filter_map(|c| match c.parse::<ipnet::IpNet>() {
            Ok(net) => Some(net.trunc()),
            Err(e) => {
                tracing::warn!(cidr = %c, error = %e, "ignoring an invalid pod CIDR of the node");
                None
            }
        })
        .collect()
}

/// Watches this node's Node object for its pod CIDRs. They only ever grow the guard's
/// knowledge: a node without pod CIDRs (or deleted) keeps those last read.
async fn watch_node(client: Client, shared: Arc<Shared>, node: String) {
    let api: Api<Node> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut seen = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => seen = false,
            Ok(Event::InitApply(n)) | Ok(Event::Apply(n))
                if n.metadata.name.as_deref() == Some(node.as_str()) =>
            {
                seen = true;
                let cidrs = pod_cidrs(&n);
                if cidrs.is_empty() {
                    continue;
                }
                let changed = shared
                    .feed
                    .store
                    .lock()
                    .expect("lock")
                    .set_node_pod_cidrs(cidrs.clone());
                if changed {
                    tracing::info!(node, cidrs = ?cidrs, "unprogrammed pod addresses of the node's pod CIDRs are dropped");
                    shared.feed.note_change();
                }
            }
            Ok(Event::InitDone) => {
                let known = shared
                    .feed
                    .store
                    .lock()
                    .expect("lock")
                    .node_pod_cidrs()
                    .is_some();
                if !seen {
                    tracing::warn!(node, "this node's Node object was not found");
                }
                if !known {
                    tracing::warn!(node, "the node has no spec.podCIDRs: running without the unprogrammed-pod guard (give --drop-unprogrammed CIDR)");
                }
                shared.feed.mark_synced(Listing::Node);
            }
            Ok(_) => {}
            Err(e) => {
                let e = Error::Watch {
                    kind: "Node",
                    source: e,
                };
                tracing::warn!(error = %e, "watch failed; retrying with backoff");
                shared.metrics.count(&e);
            }
        }
    }
}

/// Runs the watches until the process ends; `node`: also watch that Node's pod CIDRs;
/// `discovery`: how often to look for the tiered kinds' CRDs coming and going.
pub async fn run(client: Client, shared: Arc<Shared>, node: Option<String>, discovery: Duration) {
    let node_watch = async {
        if let Some(node) = node {
            watch_node(client.clone(), shared.clone(), node).await;
        }
    };
    let all = || client.clone();
    tokio::join!(
        watch_kind::<Namespace>(Api::all(all()), (), shared.clone(), Kind::Namespace),
        watch_kind::<Pod>(Api::all(all()), (), shared.clone(), Kind::Pod),
        watch_kind::<NetworkPolicy>(Api::all(all()), (), shared.clone(), Kind::NetworkPolicy),
        watch_kind::<Node>(Api::all(all()), (), shared.clone(), Kind::Node),
        crds::run(client.clone(), shared.clone(), discovery),
        node_watch,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(spec: serde_json::Value) -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn pod_cidrs_prefer_the_list_and_fall_back_to_the_single_field() {
        let both = node(serde_json::json!({"podCIDR": "10.1.0.0/24",
            "podCIDRs": ["10.1.0.0/24", "fd00:1::/64", "not-a-cidr"]}));
        assert_eq!(
            pod_cidrs(&both),
            [
                "10.1.0.0/24".parse().unwrap(),
                "fd00:1::/64".parse().unwrap()
            ] as [ipnet::IpNet; 2]
        );
        let legacy = node(serde_json::json!({"podCIDR": "10.2.0.7/24"}));
        assert_eq!(
            pod_cidrs(&legacy),
            ["10.2.0.0/24".parse::<ipnet::IpNet>().unwrap()]
        );
        assert!(pod_cidrs(&node(serde_json::json!({}))).is_empty());
    }
}
