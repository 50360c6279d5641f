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

const V1ALPHA1: &str = "policy.networking.k8s.io/v1alpha1";
const V1ALPHA2: &str = "policy.networking.k8s.io/v1alpha2";

fn node() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": "node-1", "labels": {"zone": "a"}},
           "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"},
                                    {"type": "Hostname", "address": "node-1"}]}})
}

fn tier_policies() -> Vec<serde_json::Value> {
    vec![
        json!({"apiVersion": V1ALPHA2, "kind": "ClusterNetworkPolicy",
               "metadata": {"name": "deny-db"},
               "spec": {"tier": "Admin", "priority": 5,
                        "subject": {"namespaces": {"matchLabels": {"team": "shop"}}},
                        "egress": [{"action": "Deny", "to": [{"nodes": {"matchLabels": {"zone": "a"}}}]}]}}),
        json!({"apiVersion": V1ALPHA1, "kind": "AdminNetworkPolicy",
               "metadata": {"name": "pass"},
               "spec": {"priority": 7, "subject": {"namespaces": {}},
                        "ingress": [{"action": "Pass", "from": [{"namespaces": {}}]}]}}),
        json!({"apiVersion": V1ALPHA1, "kind": "BaselineAdminNetworkPolicy",
               "metadata": {"name": "default"},
               "spec": {"subject": {"namespaces": {}},
                        "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}}),
    ]
}

fn install_tier_crds(fake: &ApiFake) {
    use netfence_apifake::Scope::Cluster;
    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Cluster);
    fake.install_crd(V1ALPHA1, "AdminNetworkPolicy", Cluster);
    fake.install_crd(V1ALPHA1, "BaselineAdminNetworkPolicy", Cluster);
}

fn tier_keys(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::TierPolicy(p) => Some(p.key()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn without_the_crds_there_are_no_tiered_policies_and_no_error() {
    let fake = ApiFake::start(vec![node()]);
    let loaded = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .expect("a cluster without the network-policy-api CRDs loads");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(tier_keys(&loaded.objects).is_empty());
    // The node is read (for `nodes` peers), and each absent kind was asked for once.
    let Some(Object::Node(n)) = loaded.objects.iter().find(|o| matches!(o, Object::Node(_))) else {
        panic!("no node in {:?}", loaded.objects)
    };
    assert_eq!(
        n.addrs,
        ["192.168.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    for plural in [
        "v1alpha2/clusternetworkpolicies",
        "v1alpha1/adminnetworkpolicies",
        "v1alpha1/baselineadminnetworkpolicies",
    ] {
        let path = format!("GET /apis/policy.networking.k8s.io/{plural}?");
        assert_eq!(
            fake.requests()
                .iter()
                .filter(|r| r.starts_with(&path))
                .count(),
            1,
            "{path}"
        );
    }
}

#[tokio::test]
async fn with_the_crds_every_tiered_policy_is_read_and_a_bad_one_reported() {
    let fake = ApiFake::start(vec![node()]);
    install_tier_crds(&fake);
    for p in tier_policies() {
        fake.apply(p);
    }
    // A ClusterNetworkPolicy without its tier: the API server's schema requires one.
    fake.apply(
        json!({"apiVersion": V1ALPHA2, "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "broken"},
        "spec": {"priority": 1, "subject": {"namespaces": {}}}}),
    );
    let loaded = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .unwrap();
    assert_eq!(
        tier_keys(&loaded.objects),
        ["cnp/deny-db", "anp/pass", "banp/default"]
    );
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    let e = loaded.errors[0].to_string();
    assert!(
        e.starts_with("cluster: ClusterNetworkPolicy broken:"),
        "{e}"
    );
    let cluster = Cluster::build(loaded.objects);
    assert_eq!(cluster.tier_policies.len(), 3);
    assert_eq!(cluster.nodes.len(), 1);
}

#[tokio::test]
async fn a_refused_tiered_kind_fails_the_load() {
    let fake = ApiFake::start(vec![]);
    install_tier_crds(&fake);
    fake.fail_next(
        "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies",
        403,
    );
    let err = netfence_loader::cluster::load_cluster(&client(&fake), "default")
        .await
        .expect_err("a 403 must fail the load: the analysis would miss Admin policies");
    assert!(err.to_string().contains("AdminNetworkPolicy"), "{err}");
}
