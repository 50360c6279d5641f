//! Objects from a live cluster through the API server (kubeconfig, optional context).
//! Objects are turned back into the same generic value the file loader decodes, so a
//! live cluster and a directory of manifests go through one decoding path.

use crate::{LoadError, Loaded};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use netfence_model::Source;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Connects with the kubeconfig (or in-cluster config when none), using `context` if set.
pub async fn client(context: Option<&str>) -> Result<Client, LoadError> {
    let config = match context {
        Some(ctx) => {
            let kubeconfig = Kubeconfig::read().map_err(|e| LoadError::Config(e.to_string()))?;
            let options = KubeConfigOptions {
                context: Some(ctx.to_string()),
                ..Default::default()
            };
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| LoadError::Config(e.to_string()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| LoadError::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| LoadError::Config(e.to_string()))
}

/// The namespace of the kubeconfig's current context (for names given without one).
pub async fn default_namespace(context: Option<&str>) -> String {
    let Ok(kubeconfig) = Kubeconfig::read() else {
        return "default".into();
    };
    let name = context
        .map(str::to_string)
        .or_else(|| kubeconfig.current_context.clone());
    kubeconfig
        .contexts
        .iter()
        .find(|c| Some(&c.name) == name.as_ref())
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.namespace.clone())
        .unwrap_or_else(|| "default".into())
}

async fn list_all<K>(
    client: &Client,
    loaded: &mut Loaded,
    default_ns: &str,
) -> Result<(), LoadError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    let kind = K::kind(&()).to_string();
    let api: Api<K> = Api::all(client.clone());
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.map_err(|e| LoadError::Api {
            kind: kind.clone(),
            message: e.to_string(),
        })?;
        for item in &page.items {
            let mut json = serde_json::to_value(item).map_err(|e| LoadError::Api {
                kind: kind.clone(),
                message: e.to_string(),
            })?;
            if let Some(obj) = json.as_object_mut() {
                // List items may come without their kind; the decoder dispatches on it.
                obj.insert("kind".into(), serde_json::Value::String(kind.clone()));
                obj.insert(
                    "apiVersion".into(),
                    serde_json::Value::String(K::api_version(&()).to_string()),
                );
            }
            let value: serde_yaml::Value =
                serde_json::from_value(json).map_err(|e| LoadError::Api {
                    kind: kind.clone(),
                    message: e.to_string(),
                })?;
            loaded.absorb(netfence_model::manifest::decode_object(
                value,
                Source::new("cluster", 0),
                default_ns,
            ));
        }
        loaded.inputs += 1;
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(())
}

/// Reads everything the model needs from the cluster. Peers can be in any namespace,
/// so the whole cluster is read; ReplicaSets and Jobs are left out because their
/// Deployments and CronJobs already stand for their pods.
pub async fn load_cluster(client: &Client, default_ns: &str) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    list_all::<Namespace>(client, &mut loaded, default_ns).await?;
    list_all::<Pod>(client, &mut loaded, default_ns).await?;
    list_all::<NetworkPolicy>(client, &mut loaded, default_ns).await?;
    list_all::<Service>(client, &mut loaded, default_ns).await?;
    list_all::<Deployment>(client, &mut loaded, default_ns).await?;
    list_all::<StatefulSet>(client, &mut loaded, default_ns).await?;
    list_all::<DaemonSet>(client, &mut loaded, default_ns).await?;
    list_all::<CronJob>(client, &mut loaded, default_ns).await?;
    list_all::<ReplicationController>(client, &mut loaded, default_ns).await?;
    Ok(loaded)
}
