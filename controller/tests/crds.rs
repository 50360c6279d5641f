//! The controller's watches (`watch::run`, discovery of the tiered policies' CRDs
//! included) against the in-repo API fake over real HTTP, observed in the object store
//! and the model compiled from it, as the enforcer compiles it. No kernel: needs no root.

use netfence_apifake::{ApiFake, Scope};
use netfence_controller::state::Shared;
use netfence_controller::watch;
use netfence_model::{Cluster, Model, Object};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const V1ALPHA1: &str = "policy.networking.k8s.io/v1alpha1";
const V1ALPHA2: &str = "policy.networking.k8s.io/v1alpha2";
const CNP_PATH: &str = "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies";
/// Short, so that CRDs coming and going are seen within the tests' waits.
const DISCOVERY: Duration = Duration::from_millis(100);
const WAIT: Duration = Duration::from_secs(20);

fn base() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "shop", "labels": {"team": "shop"}}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}},
               "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
               "status": {"podIP": "10.0.0.1"}}),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "node-1", "labels": {"zone": "a"}},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"}]}}),
    ]
}

fn cnp(name: &str, priority: u32) -> Value {
    json!({"apiVersion": V1ALPHA2, "kind": "ClusterNetworkPolicy",
           "metadata": {"name": name},
           "spec": {"tier": "Admin", "priority": priority,
                    "subject": {"namespaces": {"matchLabels": {"team": "shop"}}},
                    "egress": [{"action": "Deny",
                                "to": [{"nodes": {"matchLabels": {"zone": "a"}}}]}]}})
}

fn anp(name: &str) -> Value {
    json!({"apiVersion": V1ALPHA1, "kind": "AdminNetworkPolicy",
           "metadata": {"name": name},
           "spec": {"priority": 3, "subject": {"namespaces": {}},
                    "ingress": [{"action": "Allow", "from": [{"namespaces": {}}]}]}})
}

fn client(fake: &ApiFake) -> kube::Client {
    kube::Client::try_from(kube::Config::new(fake.url().parse().unwrap())).unwrap()
}

/// The watches of a controller in cluster mode (no node guard), readiness as it keeps it.
struct Watching {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Watching {
    fn start(fake: &ApiFake) -> Watching {
        let shared = Arc::new(Shared::new(&watch::listings()));
        let task = tokio::spawn(watch::run(client(fake), shared.clone(), None, DISCOVERY));
        Watching { shared, task }
    }

    fn ready(&self) -> bool {
        self.shared.feed.all_synced()
    }

    fn objects(&self) -> Vec<Object> {
        self.shared.feed.store.lock().unwrap().objects()
    }

    /// The tiered policies in the store, by key.
    fn tiers(&self) -> Vec<String> {
        self.objects()
            .iter()
            .filter_map(|o| match o {
                Object::TierPolicy(p) => Some(p.key()),
                _ => None,
            })
            .collect()
    }

    /// `netfence_errors_total{kind="..."}`.
    fn errors(&self, kind: &str) -> f64 {
        let needle = format!("netfence_errors_total{{kind=\"{kind}\"}} ");
        self.shared
            .metrics
            .encode()
            .lines()
            .find_map(|l| l.strip_prefix(&needle)?.parse().ok())
            .unwrap_or(0.0)
    }

    async fn until(&self, what: &str, done: impl Fn(&Watching) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not in time; tiers {:?}",
                self.tiers()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiered_policies_follow_their_crds_coming_and_going() {
    let fake = ApiFake::start(base());
    let w = Watching::start(&fake);
    w.until("ready without the CRDs", Watching::ready).await;
    assert!(w.tiers().is_empty());
    let nodes: Vec<String> = w
        .objects()
        .iter()
        .filter_map(|o| match o {
            Object::Node(n) => Some(format!("{} {:?}", n.name, n.addrs)),
            _ => None,
        })
        .collect();
    assert_eq!(nodes, ["node-1 [192.168.0.1]"], "every Node is watched");

    // The CRD appears with a policy: the model gains it.
    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Scope::Cluster);
    fake.apply(cnp("deny-nodes", 10));
    w.until("the new CRD's policy", |w| w.tiers() == ["cnp/deny-nodes"])
        .await;
    let model = Model::compile(Cluster::build(w.objects()));
    assert_eq!(model.cluster.tier_policies.len(), 1);
    assert_eq!(model.cluster.nodes.len(), 1);
    assert!(
        !model.tiers.stacks.is_empty(),
        "shop/api is the policy's subject: {:?}",
        model.tiers
    );
    assert!(
        w.ready(),
        "a kind appearing later does not hold readiness back"
    );

    // An invalid policy is reported and skipped; the others stay and new ones come.
    let invalid_before = w.errors("invalid_object");
    let mut bad = cnp("bad", 11);
    bad["spec"]["tier"] = json!("Middle");
    fake.apply(bad);
    fake.apply(cnp("second", 12));
    w.until("the valid policy after an invalid one", |w| {
        w.tiers() == ["cnp/deny-nodes", "cnp/second"]
    })
    .await;
    w.until("the invalid policy reported", |w| {
        w.errors("invalid_object") > invalid_before
    })
    .await;

    // A deleted policy leaves.
    fake.delete(V1ALPHA2, "ClusterNetworkPolicy", "", "deny-nodes")
        .unwrap();
    w.until("the deleted policy gone", |w| w.tiers() == ["cnp/second"])
        .await;

    // A second kind, of the other version.
    fake.install_crd(V1ALPHA1, "AdminNetworkPolicy", Scope::Cluster);
    fake.apply(anp("allow-all"));
    w.until("the AdminNetworkPolicy", |w| {
        w.tiers() == ["cnp/second", "anp/allow-all"]
    })
    .await;

    // The CRD is deleted: its policies leave with it (here through the watch's DELETED
    // events), the other kind's stay.
    fake.remove_crd(V1ALPHA2, "ClusterNetworkPolicy");
    w.until("the removed CRD's policies gone", |w| {
        w.tiers() == ["anp/allow-all"]
    })
    .await;

    // A CRD deleted while the watch is away (no DELETED event reaches it): discovery
    // takes its policies away.
    fake.set_down(true);
    fake.remove_crd(V1ALPHA1, "AdminNetworkPolicy");
    fake.set_down(false);
    w.until("the policies of a CRD gone unseen", |w| {
        w.tiers().is_empty()
    })
    .await;

    // It comes back, with its objects: watched again.
    fake.install_crd(V1ALPHA1, "AdminNetworkPolicy", Scope::Cluster);
    fake.apply(anp("again"));
    w.until("the reinstalled CRD's policy", |w| {
        w.tiers() == ["anp/again"]
    })
    .await;
    assert!(w.ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_kinds_served_at_start() {
    let fake = ApiFake::start(base());
    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Scope::Cluster);
    fake.apply(cnp("deny-nodes", 10));
    // The first discovery fails, then the policies' list fails a few times.
    // (500: kube-client retries a 503 itself.)
    fake.fail_next("/apis/policy.networking.k8s.io/v1alpha2", 500);
    for _ in 0..3 {
        fake.fail_next(&format!("{CNP_PATH}?"), 500);
    }
    let w = Watching::start(&fake);
    let deadline = Instant::now() + WAIT;
    while !w.ready() {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        w.tiers(),
        ["cnp/deny-nodes"],
        "ready only with the tiered policies in place"
    );
    assert!(
        w.errors("discovery") >= 1.0,
        "the failed discovery is counted"
    );
    let failed_lists = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("GET {CNP_PATH}?")) && !r.contains("watch=true"))
        .count();
    assert!(failed_lists >= 4, "{:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_gone_before_its_list_came_in_holds_nothing_back() {
    let fake = ApiFake::start(base());
    fake.install_crd(V1ALPHA2, "ClusterNetworkPolicy", Scope::Cluster);
    // Its list keeps failing until the CRD goes.
    for _ in 0..1000 {
        fake.fail_next(&format!("{CNP_PATH}?"), 500);
    }
    let w = Watching::start(&fake);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!w.ready(), "the served kind's list is not in");
    fake.remove_crd(V1ALPHA2, "ClusterNetworkPolicy");
    w.until("ready once the kind is gone", Watching::ready)
        .await;
}
