//! Objects from a live cluster through the API server (kubeconfig, optional context).
//! A typed object is serialised once, straight into the generic value the file loader
//! decodes ([`decode_typed`]), so a live cluster, the controller's watches and a
//! directory of manifests go through one decoding path.

use crate::{LoadError, Loaded};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use netfence_model::{ManifestError, ParsedManifest, Source};
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
            let parsed = decode_typed(item, default_ns).map_err(|e| LoadError::Api {
                kind: kind.clone(),
                message: e.message,
            })?;
            loaded.absorb(parsed);
        }
        loaded.inputs += 1;
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(())
}

/// Decodes a typed API object as the model reads manifests: serialised once into the
/// generic value the model's decoder takes (kind and apiVersion set from the type: list
/// items may come without them, and the decoder dispatches on them), then decoded with
/// `source` "cluster" (no lines). Objects without a namespace go to `default_ns`. The
/// error is the serialisation's (not expected of k8s-openapi types); the model's own
/// errors are in the returned [`ParsedManifest`], worded as for manifest files.
pub fn decode_typed<K>(object: &K, default_ns: &str) -> Result<ParsedManifest, ManifestError>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let source = Source::new("cluster", 0);
    let mut value = serde_yaml::to_value(object).map_err(|e| ManifestError {
        location: source.clone(),
        object: None,
        message: e.to_string(),
    })?;
    if let Some(map) = value.as_mapping_mut() {
        map.insert("kind".into(), K::kind(&()).as_ref().into());
        map.insert("apiVersion".into(), K::api_version(&()).as_ref().into());
    }
    Ok(netfence_model::manifest::decode_object(
        value, source, default_ns,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use netfence_model::Object;

    fn pod(ip: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}
        }))
        .unwrap()
    }

    /// The path the loader and the controller each took before: typed -> JSON -> YAML value.
    fn through_json(p: &Pod) -> ParsedManifest {
        let mut json = serde_json::to_value(p).unwrap();
        json["kind"] = "Pod".into();
        json["apiVersion"] = "v1".into();
        netfence_model::manifest::decode_object(
            serde_json::from_value(json).unwrap(),
            Source::new("cluster", 0),
            "shop",
        )
    }

    #[test]
    fn a_typed_object_decodes_as_it_did_through_json() {
        let good = decode_typed(&pod("10.0.0.7"), "shop").unwrap();
        assert!(good.errors.is_empty(), "{:?}", good.errors);
        let [Object::Pod(p)] = good.objects.as_slice() else {
            panic!("{good:?}")
        };
        assert_eq!(p.meta.namespace, "shop");
        assert_eq!(p.addrs[0].to_string(), "10.0.0.7");
        assert_eq!(good.objects, through_json(&pod("10.0.0.7")).objects);

        let bad = decode_typed(&pod("10.0.0.300"), "shop").unwrap();
        let before = through_json(&pod("10.0.0.300"));
        assert!(bad.objects.is_empty());
        assert_eq!(bad.errors.len(), 1, "{:?}", bad.errors);
        assert_eq!(bad.errors, before.errors);
        assert!(
            bad.errors[0]
                .to_string()
                .starts_with("cluster: Pod shop/p: "),
            "{}",
            bad.errors[0]
        );
    }
}
