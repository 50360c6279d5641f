//! CRDs installed and deleted at runtime, seen through kube's discovery calls and a
//! kube-runtime watcher of DynamicObjects, over HTTP.

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use netfence_apifake::{ApiFake, Scope};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const V1ALPHA2: &str = "policy.networking.k8s.io/v1alpha2";

fn client(fake: &ApiFake) -> Client {
    Client::try_from(kube::Config::new(fake.url().parse().unwrap())).unwrap()
}

fn cnp(name: &str) -> serde_json::Value {
    json!({"apiVersion": V1ALPHA2, "kind": "ClusterNetworkPolicy",
           "metadata": {"name": name},
           "spec": {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}},
                    "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}})
}

fn resource() -> ApiResource {
    ApiResource {
        group: "policy.networking.k8s.io".into(),
        version: "v1alpha2".into(),
        api_version: V1ALPHA2.into(),
        kind: "ClusterNetworkPolicy".into(),
        plural: "clusternetworkpolicies".into(),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

#[tokio::test]
async fn discovery_and_collections_follow_the_crds_installed() {
    let fake = ApiFake::start(vec![]);
    let c = client(&fake);
    let groups = c.list_api_groups().await.unwrap();
    assert!(groups
        .groups
        .iter()
        .all(|g| g.name != "policy.networking.k8s.io"));
    assert!(is_not_found(
        &c.list_api_group_resources(V1ALPHA2).await.unwrap_err()
    ));
    let api: Api<DynamicObject> = Api::all_with(c.clone(), &resource());
    assert!(is_not_found(
        &api.list(&ListParams::default()).await.unwrap_err()
    ));
    // The built-in kinds are discovered too, with their scope.
    let core = c.list_core_api_resources("v1").await.unwrap();
    let nodes = core.resources.iter().find(|r| r.name == "nodes").unwrap();
    assert!(!nodes.namespaced);
    assert_eq!(c.list_core_api_versions().await.unwrap().versions, ["v1"]);

    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Scope::Cluster);
    fake.install_crd(
        "policy.networking.k8s.io/v1alpha1",
        "AdminNetworkPolicy",
        Scope::Cluster,
    );
    let groups = c.list_api_groups().await.unwrap();
    let policy = groups
        .groups
        .iter()
        .find(|g| g.name == "policy.networking.k8s.io")
        .expect("the group is discovered");
    assert_eq!(policy.versions.len(), 2);
    assert_eq!(
        policy.preferred_version.as_ref().unwrap().group_version,
        V1ALPHA2
    );
    let served = c.list_api_group_resources(V1ALPHA2).await.unwrap();
    assert_eq!(served.resources.len(), 1);
    assert_eq!(served.resources[0].name, "clusternetworkpolicies");
    assert_eq!(served.resources[0].kind, "ClusterNetworkPolicy");
    assert!(!served.resources[0].namespaced);
    let empty = api.list(&ListParams::default()).await.unwrap();
    assert!(empty.items.is_empty());

    fake.apply(cnp("a"));
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("a"));
    assert_eq!(listed.items[0].data["spec"]["tier"], "Admin");

    assert!(fake.remove_crd(V1ALPHA2, "ClusterNetworkPolicy"));
    assert!(!fake.remove_crd(V1ALPHA2, "ClusterNetworkPolicy"));
    assert!(is_not_found(
        &api.list(&ListParams::default()).await.unwrap_err()
    ));
    assert!(is_not_found(
        &c.list_api_group_resources(V1ALPHA2).await.unwrap_err()
    ));
    // v1alpha1 is still served, so the group is.
    let groups = c.list_api_groups().await.unwrap();
    let policy = groups
        .groups
        .iter()
        .find(|g| g.name == "policy.networking.k8s.io")
        .expect("the group is still discovered");
    assert_eq!(policy.versions.len(), 1);
    assert!(fake.objects(V1ALPHA2, "ClusterNetworkPolicy").is_empty());
}

#[tokio::test]
async fn a_watch_sees_the_objects_leave_with_their_crd() {
    let fake = ApiFake::start(vec![]);
    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Scope::Cluster);
    fake.apply(cnp("a"));
    let api: Api<DynamicObject> = Api::all_with(client(&fake), &resource());
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let mut next = async || {
        tokio::time::timeout(WAIT, events.next())
            .await
            .expect("no watcher event in time")
            .expect("the stream goes on")
    };
    let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
    assert!(matches!(next().await, Ok(watcher::Event::Init)));
    assert!(matches!(next().await, Ok(watcher::Event::InitApply(o)) if name(&o) == "a"));
    assert!(matches!(next().await, Ok(watcher::Event::InitDone)));
    fake.apply(cnp("b"));
    assert!(matches!(next().await, Ok(watcher::Event::Apply(o)) if name(&o) == "b"));
    fake.remove_crd(V1ALPHA2, "ClusterNetworkPolicy");
    let mut deleted = Vec::new();
    for _ in 0..2 {
        match next().await {
            Ok(watcher::Event::Delete(o)) => deleted.push(name(&o)),
            other => panic!("expected a deletion, got {other:?}"),
        }
    }
    assert_eq!(deleted, ["a", "b"]);
    // The watch ended; the watcher's next watch finds the resource gone.
    match next().await {
        Err(watcher::Error::WatchStartFailed(e)) => assert!(is_not_found(&e), "{e}"),
        other => panic!("expected a failed watch, got {other:?}"),
    }
}

#[test]
#[should_panic(expected = "install its CRD first")]
fn an_object_of_a_kind_not_served_is_refused() {
    ApiFake::start(vec![cnp("a")]);
}
