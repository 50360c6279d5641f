//! Objects from a live cluster through the API server (kubeconfig, optional context).
//! An API object (typed, or a [`DynamicObject`] of a kind k8s-openapi has no type for) is
//! serialised once, straight into the generic value the file loader decodes
//! ([`decode_resource`]), so a live cluster, the controller's watches and a directory of
//! manifests go through one decoding path.

use crate::api_failure::{ApiFailure, Request};
use crate::connect::ConnectOptions;
use crate::{LoadError, Loaded};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, Resource};
use netfence_model::tier::TierKind;
use netfence_model::{ManifestError, ParsedManifest, Source};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// The namespace of the context `options` select (for names given without one);
/// `default` when it names none or there is no kubeconfig.
pub async fn default_namespace(options: &ConnectOptions) -> String {
    match crate::connect::connect(options).await {
        Ok(connection) => connection.namespace,
        Err(_) => "default".into(),
    }
}

/// Whether a kind's resource may be missing from the API server: a CRD's kind is, when
/// the CRD is not installed, and then there is nothing to list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Served {
    Always,
    IfInstalled,
}

/// Lists every object of a kind, page by page; `dt` is the kind's dynamic type (`()` for
/// k8s-openapi types).
async fn list_all<K>(
    client: &Client,
    dt: &K::DynamicType,
    served: Served,
    loaded: &mut Loaded,
    default_ns: &str,
) -> Result<(), LoadError>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let kind = K::kind(dt).to_string();
    let api: Api<K> = Api::all_with(client.clone(), dt);
    let mut params = ListParams::default().limit(500);
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(status))
                if status.is_not_found() && served == Served::IfInstalled =>
            {
                return Ok(());
            }
            Err(e) => {
                let request = Request {
                    verb: "list".into(),
                    plural: K::plural(dt).to_string(),
                    group: K::group(dt).to_string(),
                    namespace: None,
                };
                return Err(LoadError::Api {
                    kind,
                    failure: ApiFailure::of_request(&e, Some(&request), None),
                });
            }
        };
        for item in &page.items {
            let parsed = decode_resource(item, dt, default_ns).map_err(|e| LoadError::Api {
                kind: kind.clone(),
                failure: ApiFailure::Other(e.message),
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

/// The tiered-policy kinds, in the order the model names them.
pub const TIER_KINDS: [TierKind; 3] = [
    TierKind::ClusterNetworkPolicy,
    TierKind::AdminNetworkPolicy,
    TierKind::BaselineAdminNetworkPolicy,
];

/// Where the API server serves a tiered-policy kind, once its CRD (network-policy-api)
/// is installed: the versions the model reads (v0.2.0 serves ClusterNetworkPolicy at
/// v1alpha2 only, v0.1.x the other two at v1alpha1 only). All three are cluster-scoped.
pub fn tier_resource(kind: TierKind) -> ApiResource {
    let (version, plural) = match kind {
        TierKind::ClusterNetworkPolicy => ("v1alpha2", "clusternetworkpolicies"),
        TierKind::AdminNetworkPolicy => ("v1alpha1", "adminnetworkpolicies"),
        TierKind::BaselineAdminNetworkPolicy => ("v1alpha1", "baselineadminnetworkpolicies"),
    };
    let group = "policy.networking.k8s.io";
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.kind().into(),
        plural: plural.into(),
    }
}

/// Decodes a typed API object as the model reads manifests ([`decode_resource`] for
/// k8s-openapi types).
pub fn decode_typed<K>(object: &K, default_ns: &str) -> Result<ParsedManifest, ManifestError>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    decode_resource(object, &(), default_ns)
}

/// Decodes an API object as the model reads manifests: serialised once into the generic
/// value the model's decoder takes (kind and apiVersion set from the type, `dt` for a
/// dynamic one: list items may come without them, and the decoder dispatches on them),
/// then decoded with `source` "cluster" (no lines). Objects without a namespace go to
/// `default_ns`. The error is the serialisation's (not expected of API objects); the
/// model's own errors are in the returned [`ParsedManifest`], worded as for manifest
/// files.
pub fn decode_resource<K>(
    object: &K,
    dt: &K::DynamicType,
    default_ns: &str,
) -> Result<ParsedManifest, ManifestError>
where
    K: Resource + Serialize,
{
    let source = Source::new("cluster", 0);
    let mut value = serde_yaml::to_value(object).map_err(|e| ManifestError {
        location: source.clone(),
        object: None,
        message: e.to_string(),
    })?;
    if let Some(map) = value.as_mapping_mut() {
        map.insert("kind".into(), K::kind(dt).as_ref().into());
        map.insert("apiVersion".into(), K::api_version(dt).as_ref().into());
    }
    Ok(netfence_model::manifest::decode_object(
        value, source, default_ns,
    ))
}

/// Reads everything the model needs from the cluster. Peers can be in any namespace,
/// so the whole cluster is read; ReplicaSets and Jobs are left out because their
/// Deployments and CronJobs already stand for their pods. Nodes are read for the `nodes`
/// peers of tiered policies; a tiered-policy kind whose CRD is not installed has nothing
/// to read (the API server answers 404), which is no error.
pub async fn load_cluster(client: &Client, default_ns: &str) -> Result<Loaded, LoadError> {
    use Served::Always;
    let mut loaded = Loaded::default();
    let (c, l, ns) = (client, &mut loaded, default_ns);
    list_all::<Namespace>(c, &(), Always, l, ns).await?;
    list_all::<Pod>(c, &(), Always, l, ns).await?;
    list_all::<NetworkPolicy>(c, &(), Always, l, ns).await?;
    list_all::<Service>(c, &(), Always, l, ns).await?;
    list_all::<Deployment>(c, &(), Always, l, ns).await?;
    list_all::<StatefulSet>(c, &(), Always, l, ns).await?;
    list_all::<DaemonSet>(c, &(), Always, l, ns).await?;
    list_all::<CronJob>(c, &(), Always, l, ns).await?;
    list_all::<ReplicationController>(c, &(), Always, l, ns).await?;
    list_all::<Node>(c, &(), Always, l, ns).await?;
    for kind in TIER_KINDS {
        let ar = tier_resource(kind);
        list_all::<DynamicObject>(c, &ar, Served::IfInstalled, l, ns).await?;
    }
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
