//! The live-cluster loader against the in-repo API fake, over real HTTP.

use netfence_apifake::ApiFake;
use netfence_model::{Cluster, Object};
use serde_json::json;

fn objects() -> Vec<serde_json::Value> {
    let mut v = vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "shop", "labels": {"team": "shop"}}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "db", "namespace": "shop"},
               "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                                     "ports": [{"port": 5432}]}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "api", "namespace": "shop"},
               "spec": {"selector": {"matchLabels": {"app": "api"}},
                        "template": {"metadata": {"labels": {"app": "api"}},
                                     "spec": {"containers": [{"name": "api"}]}}}}),
    ];
    // Enough pods to need several pages of 500.
    for i in 0..1203 {
        let app = if i % 2 == 0 { "api" } else { "db" };
        v.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{app}-{i}"), "namespace": "shop", "labels": {"app": app}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
            "status": {"podIP": format!("10.0.{}.{}", i / 250, i % 250 + 1), "phase": "Running"}}));
    }
    v
}

fn client(fake: &ApiFake) -> kube::Client {
    let config = kube::Config::new(fake.url().parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn reads_every_page_of_every_resource() {
    let fake = ApiFake::start(objects());
    let loaded = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .expect("load");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let pods = loaded
        .objects
        .iter()
        .filter(|o| matches!(o, Object::Pod(_)))
        .count();
    assert_eq!(pods, 1203);
    let pod_pages = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/pods"))
        .count();
    assert_eq!(pod_pages, 3, "{:?}", fake.requests());
    let cluster = Cluster::build(loaded.objects);
    assert_eq!(cluster.policies.len(), 1);
    assert_eq!(
        cluster
            .namespace(cluster.namespace_id("shop").unwrap())
            .labels["team"],
        "shop"
    );
    // The Deployment owns pods, so it is no endpoint of its own.
    assert_eq!(cluster.endpoints.len(), 1203);
    let api0 = cluster.endpoint_by_key("shop/api-0").unwrap();
    assert!(cluster.endpoint(api0).workload.is_some());
}

#[tokio::test]
async fn api_errors_name_the_resource() {
    let fake = ApiFake::start(objects());
    fake.fail_next("/apis/networking.k8s.io/v1/networkpolicies", 403);
    let err = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .expect_err("a 403 must fail the load");
    let msg = err.to_string();
    assert!(msg.contains("NetworkPolicy"), "{msg}");
}

#[tokio::test]
async fn a_bad_object_is_reported_and_the_rest_loaded() {
    let mut objs = objects();
    objs.push(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "broken", "namespace": "shop"},
        "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/99"}}]}]}}),
    );
    let fake = ApiFake::start(objs);
    let loaded = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .unwrap();
    assert_eq!(loaded.errors.len(), 1);
    let e = loaded.errors[0].to_string();
    assert!(e.starts_with("cluster: NetworkPolicy shop/broken:"), "{e}");
    assert!(loaded
        .objects
        .iter()
        .any(|o| matches!(o, Object::Policy(p) if p.meta.name == "db")));
}
