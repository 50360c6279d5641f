//! Cluster-wide watches of Pods, Namespaces and NetworkPolicies (peers can be anywhere),
//! feeding the object store. kube-runtime's watcher relists after 410 Gone and
//! reconnects after disconnects, with backoff; a relist replaces the kind's objects.

use crate::state::Shared;
use crate::store::Stored;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::Arc;

pub const KINDS: [&str; 3] = ["Namespace", "Pod", "NetworkPolicy"];

fn handle(shared: &Shared, kind: &'static str, stored: Stored, name: &str) -> bool {
    match stored {
        Stored::Changed => true,
        Stored::Unchanged => false,
        Stored::Invalid(errors) => {
            for e in errors {
                tracing::warn!(kind, object = name, error = %e, "skipping invalid object; its last valid version (if any) stays enforced");
            }
            shared.metrics.error("invalid_object");
            false
        }
    }
}

async fn watch_kind<K>(client: Client, shared: Arc<Shared>, kind: &'static str)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
{
    let api: Api<K> = Api::all(client);
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(Event::Init) => {
                shared.store.lock().expect("lock").start_relist(kind);
                false
            }
            Ok(Event::InitApply(obj)) | Ok(Event::Apply(obj)) => {
                let name = obj.meta().name.clone().unwrap_or_default();
                let value = serde_json::to_value(&obj).unwrap_or_default();
                let stored = shared.store.lock().expect("lock").apply(kind, value);
                handle(&shared, kind, stored, &name)
            }
            Ok(Event::Delete(obj)) => {
                let name = obj.meta().name.clone().unwrap_or_default();
                let value = serde_json::to_value(&obj).unwrap_or_default();
                let stored = shared.store.lock().expect("lock").delete(kind, &value);
                handle(&shared, kind, stored, &name)
            }
            Ok(Event::InitDone) => {
                shared.store.lock().expect("lock").finish_relist(kind);
                shared.mark_synced(kind);
                tracing::info!(kind, "synced");
                true
            }
            Err(e) => {
                tracing::warn!(kind, error = %e, "watch failed; retrying with backoff");
                shared.metrics.error("watch");
                false
            }
        };
        if changed {
            shared.note_change();
        }
    }
}

/// Runs the three watches until the process ends.
pub async fn run(client: Client, shared: Arc<Shared>) {
    tokio::join!(
        watch_kind::<Namespace>(client.clone(), shared.clone(), "Namespace"),
        watch_kind::<Pod>(client.clone(), shared.clone(), "Pod"),
        watch_kind::<NetworkPolicy>(client, shared, "NetworkPolicy"),
    );
}
