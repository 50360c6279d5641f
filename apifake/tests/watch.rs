//! The fake against the real kube-runtime watcher and reflector (kube 5), over HTTP.
//! Every wait is bounded, so a broken fake fails fast instead of hanging.

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use netfence_apifake::{ApiFake, ExpiredWatch};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The longest any single expectation may take.
const WAIT: Duration = Duration::from_secs(20);

fn client(fake: &ApiFake) -> Client {
    Client::try_from(kube::Config::new(fake.url().parse().unwrap())).unwrap()
}

fn pod(ns: &str, name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
           "spec": {"containers": [{"name": "c"}]},
           "status": {"podIP": "10.0.0.1", "phase": "Running"}})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn policy(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
}

fn key<K: ResourceExt>(o: &K) -> String {
    match o.namespace() {
        Some(ns) => format!("{ns}/{}", o.name_any()),
        None => o.name_any(),
    }
}

fn render<K: ResourceExt>(item: Result<watcher::Event<K>, watcher::Error>) -> String {
    let obj = |o: &K| format!("{}@{}", key(o), o.resource_version().unwrap_or_default());
    match item {
        Ok(watcher::Event::Init) => "Init".into(),
        Ok(watcher::Event::InitApply(o)) => format!("InitApply({})", obj(&o)),
        Ok(watcher::Event::InitDone) => "InitDone".into(),
        Ok(watcher::Event::Apply(o)) => format!("Apply({})", obj(&o)),
        Ok(watcher::Event::Delete(o)) => format!("Delete({})", obj(&o)),
        Err(watcher::Error::WatchError(s)) => format!("WatchError({} {})", s.code, s.reason),
        Err(watcher::Error::WatchStartFailed(kube::Error::Api(s))) => {
            format!("WatchStartFailed({} {})", s.code, s.reason)
        }
        Err(watcher::Error::WatchStartFailed(_)) => "WatchStartFailed".into(),
        Err(watcher::Error::InitialListFailed(_)) => "InitialListFailed".into(),
        Err(watcher::Error::WatchFailed(_)) => "WatchFailed".into(),
        Err(watcher::Error::NoResourceVersion) => "NoResourceVersion".into(),
    }
}

/// Drives a watcher stream on its own task and hands its events over as strings.
struct Recorder {
    rx: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// `pause_on_error` throttles a watcher without backoff (it is polled lazily).
    fn new<K, S>(stream: S, pause_on_error: Duration) -> Recorder
    where
        K: ResourceExt + Send + 'static,
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = Box::pin(stream);
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(render(item)).is_err() {
                    return;
                }
                if failed && !pause_on_error.is_zero() {
                    tokio::time::sleep(pause_on_error).await;
                }
            }
        });
        Recorder { rx, task }
    }

    async fn next(&mut self) -> String {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("no watcher event in time")
            .expect("the watcher stream ended")
    }

    /// The next events, which must be exactly `expected`.
    async fn expect(&mut self, expected: &[&str]) {
        let mut got = Vec::new();
        for _ in expected {
            got.push(self.next().await);
        }
        assert_eq!(got, expected);
    }

    /// Events up to and including the first one equal to `last`.
    async fn until(&mut self, last: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {last} in time; saw {seen:?}"))
                .expect("the watcher stream ended");
            seen.push(event.clone());
            if event == last {
                return seen;
            }
        }
    }

    /// Events received within `d`.
    async fn within(&mut self, d: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + d;
        let mut seen = Vec::new();
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            seen.push(e);
        }
        seen
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The resourceVersion of each watch request on `path`, in order.
fn watch_versions(fake: &ApiFake, path: &str) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|r| r.strip_prefix(&format!("GET {path}?")))
        .filter(|q| q.split('&').any(|kv| kv == "watch=true"))
        .map(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("resourceVersion="))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn lists(fake: &ApiFake, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter_map(|r| r.strip_prefix(&format!("GET {path}")))
        .filter(|q| !q.contains("watch=true"))
        .count()
}

/// (key, resourceVersion) of everything in a store, sorted.
fn store_state<K: ResourceExt + Clone>(store: &Store<K>) -> Vec<(String, String)>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let mut v: Vec<_> = store
        .state()
        .iter()
        .map(|o| (key(o.as_ref()), o.resource_version().unwrap_or_default()))
        .collect();
    v.sort();
    v
}

/// (key, resourceVersion) of every object of a kind in the fake, sorted.
fn fake_state(fake: &ApiFake, api_version: &str, kind: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = fake
        .objects(api_version, kind)
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            let name = m["name"].as_str().unwrap().to_string();
            let key = match m["namespace"].as_str() {
                Some(ns) => format!("{ns}/{name}"),
                None => name,
            };
            (key, m["resourceVersion"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

/// A reflector over `api`, driven on its own task, and its events.
fn reflect<K>(api: Api<K>, config: watcher::Config, backoff: bool) -> (Store<K>, Recorder)
where
    K: Resource + ResourceExt + Clone + std::fmt::Debug + k8s_openapi::serde::de::DeserializeOwned,
    K: Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector::reflector(writer, watcher(api, config));
    let recorder = if backoff {
        Recorder::new(stream.default_backoff(), Duration::ZERO)
    } else {
        Recorder::new(stream, Duration::from_millis(20))
    };
    (reader, recorder)
}

fn two_pods() -> ApiFake {
    ApiFake::start(vec![
        namespace("shop"),
        pod("shop", "b", "db"),
        pod("shop", "a", "api"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_list_then_apply_modify_delete_in_order() {
    let fake = two_pods();
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(watcher(pods, watcher::Config::default()), Duration::ZERO);
    // Listed in key order, each with its own resourceVersion.
    events
        .expect(&[
            "Init",
            "InitApply(shop/a@3)",
            "InitApply(shop/b@2)",
            "InitDone",
        ])
        .await;
    let uid = fake.get("v1", "Pod", "shop", "a").unwrap()["metadata"]["uid"].clone();
    assert!(uid.is_string());

    let c = fake.apply(pod("shop", "c", "web"));
    let a = fake.apply(pod("shop", "a", "web"));
    let b = fake.delete("v1", "Pod", "shop", "b").unwrap();
    assert_eq!((c, a, b), (4, 5, 6));
    assert_eq!(fake.delete("v1", "Pod", "shop", "b"), None);
    events
        .expect(&["Apply(shop/c@4)", "Apply(shop/a@5)", "Delete(shop/b@6)"])
        .await;
    // A replace keeps the uid and creationTimestamp.
    let a = fake.get("v1", "Pod", "shop", "a").unwrap();
    assert_eq!(a["metadata"]["uid"], uid);
    assert_eq!(a["metadata"]["labels"]["app"], "web");

    // One list (the default page of 500), then one watch from the list's version.
    let reqs = fake.requests();
    assert_eq!(lists(&fake, "/api/v1/pods"), 1, "{reqs:?}");
    assert!(reqs[0].starts_with("GET /api/v1/pods?") && reqs[0].contains("limit=500"));
    let watch = &reqs[1];
    for param in [
        "watch=true",
        "allowWatchBookmarks=true",
        "timeoutSeconds=290",
    ] {
        assert!(watch.contains(param), "{watch}");
    }
    assert_eq!(watch_versions(&fake, "/api/v1/pods"), ["3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflectors_over_pods_namespaces_and_policies_follow_the_fake() {
    let fake = ApiFake::start(vec![
        namespace("shop"),
        pod("shop", "a", "api"),
        policy("shop", "deny"),
    ]);
    let client = client(&fake);
    let cfg = watcher::Config::default;
    let (pods, mut pe) = reflect(Api::<Pod>::all(client.clone()), cfg(), true);
    let (nss, mut ne) = reflect(Api::<Namespace>::all(client.clone()), cfg(), true);
    let (pols, mut np) = reflect(Api::<NetworkPolicy>::all(client), cfg(), true);
    for e in [&mut pe, &mut ne, &mut np] {
        e.until("InitDone").await;
    }
    fake.apply(namespace("bank"));
    fake.apply(pod("bank", "vault", "vault"));
    fake.apply(policy("bank", "allow-vault"));
    fake.apply(pod("shop", "a", "web"));
    fake.delete("networking.k8s.io/v1", "NetworkPolicy", "shop", "deny");
    fake.delete("v1", "Namespace", "", "shop");
    eventually("the pod store", || {
        store_state(&pods) == fake_state(&fake, "v1", "Pod")
    })
    .await;
    eventually("the namespace store", || {
        store_state(&nss) == fake_state(&fake, "v1", "Namespace")
    })
    .await;
    eventually("the policy store", || {
        store_state(&pols) == fake_state(&fake, "networking.k8s.io/v1", "NetworkPolicy")
    })
    .await;
    assert_eq!(
        store_state(&pols),
        [("bank/allow-vault".to_string(), "6".to_string())]
    );
    assert_eq!(store_state(&nss), [("bank".to_string(), "4".to_string())]);
    assert_eq!(np.until("Delete(shop/deny@8)").await.len(), 2);
    // The watches went on: each collection was listed once.
    for path in [
        "/api/v1/pods",
        "/api/v1/namespaces",
        "/apis/networking.k8s.io/v1/networkpolicies",
    ] {
        assert_eq!(lists(&fake, path), 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_watch_is_resumed_from_the_last_version_without_a_relist() {
    let fake = two_pods();
    // No bookmarks, so the watcher's version is exactly that of the last event seen.
    fake.set_bookmark_interval(None);
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(
        watcher(pods, watcher::Config::default()).default_backoff(),
        Duration::ZERO,
    );
    events.until("InitDone").await;
    let x = fake.apply(pod("shop", "x", "web"));
    events.expect(&[&format!("Apply(shop/x@{x})")]).await;
    eventually("the watch", || fake.open_watches() == 1).await;

    fake.drop_watches();
    let y = fake.apply(pod("shop", "y", "web"));
    let seen = events.until(&format!("Apply(shop/y@{y})")).await;
    // kube-client takes the missing final chunk for the end of the stream: no error.
    assert_eq!(seen, [format!("Apply(shop/y@{y})")]);
    assert_eq!(lists(&fake, "/api/v1/pods"), 1);
    assert_eq!(watch_versions(&fake, "/api/v1/pods"), ["3", &x.to_string()]);
    eventually("the new watch", || fake.open_watches() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_alone_does_not_disturb_an_up_to_date_watcher() {
    let fake = two_pods();
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(
        watcher(pods, watcher::Config::default()).default_backoff(),
        Duration::ZERO,
    );
    events.until("InitDone").await;
    let x = fake.apply(pod("shop", "x", "web"));
    events.expect(&[&format!("Apply(shop/x@{x})")]).await;
    // Open watches go on through a compaction...
    fake.compact();
    let y = fake.apply(pod("shop", "y", "web"));
    events.expect(&[&format!("Apply(shop/y@{y})")]).await;
    // ...and one that has seen everything resumes even from a compacted history.
    fake.compact();
    fake.drop_watches();
    let z = fake.apply(pod("shop", "z", "web"));
    let seen = events.until(&format!("Apply(shop/z@{z})")).await;
    assert!(!seen.contains(&"Init".to_string()), "{seen:?}");
    assert_eq!(lists(&fake, "/api/v1/pods"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_missed_while_down_and_compacted_away_make_the_watcher_relist() {
    let fake = two_pods();
    let pods: Api<Pod> = Api::all(client(&fake));
    let (store, mut events) = reflect(pods, watcher::Config::default(), true);
    events.until("InitDone").await;

    fake.set_down(true);
    // The watch is cut, and reconnecting fails while down.
    let seen = events.until("WatchStartFailed").await;
    assert!(!seen.contains(&"Init".to_string()), "{seen:?}");
    let c = fake.apply(pod("shop", "c", "web"));
    let a = fake.apply(pod("shop", "a", "web"));
    fake.delete("v1", "Pod", "shop", "b").unwrap();
    fake.compact();
    fake.set_down(false);

    // The resumed watch is told its version is too old (an ERROR event), so it relists.
    let seen = events.until("InitDone").await;
    let from = seen
        .iter()
        .position(|e| e == "WatchError(410 Expired)")
        .unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(
        seen[from + 1..],
        [
            "Init",
            &format!("InitApply(shop/a@{a})"),
            &format!("InitApply(shop/c@{c})"),
            "InitDone"
        ]
    );
    assert_eq!(store_state(&store), fake_state(&fake, "v1", "Pod"));
    assert_eq!(lists(&fake, "/api/v1/pods"), 2);
    // And it watches on from the new list.
    let d = fake.apply(pod("shop", "d", "web"));
    events.expect(&[&format!("Apply(shop/d@{d})")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_fell_behind_a_short_history_relists() {
    let fake = two_pods();
    fake.set_max_history(Some(2));
    let pods: Api<Pod> = Api::all(client(&fake));
    let (store, mut events) = reflect(pods, watcher::Config::default(), true);
    events.until("InitDone").await;
    fake.set_down(true);
    events.until("WatchStartFailed").await;
    for name in ["c", "d", "e"] {
        fake.apply(pod("shop", name, "web"));
    }
    fake.set_down(false);
    let seen = events.until("InitDone").await;
    assert!(
        seen.contains(&"WatchError(410 Expired)".to_string()),
        "{seen:?}"
    );
    assert_eq!(store_state(&store).len(), 5);
    assert_eq!(store_state(&store), fake_state(&fake, "v1", "Pod"));

    // Within the history, a resumed watch replays what it missed instead.
    fake.set_down(true);
    events.until("WatchStartFailed").await;
    let f = fake.apply(pod("shop", "f", "web"));
    let g = fake.delete("v1", "Pod", "shop", "c").unwrap();
    fake.set_down(false);
    let seen = events.until(&format!("Delete(shop/c@{g})")).await;
    assert_eq!(seen[seen.len() - 2], format!("Apply(shop/f@{f})"));
    assert!(!seen.contains(&"Init".to_string()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_error_event_during_a_watch_makes_the_watcher_relist() {
    let fake = two_pods();
    let pods: Api<Pod> = Api::all(client(&fake));
    let (store, mut events) = reflect(pods, watcher::Config::default(), true);
    events.until("InitDone").await;
    let c = fake.apply(pod("shop", "c", "web"));
    events.expect(&[&format!("Apply(shop/c@{c})")]).await;
    eventually("the watch", || fake.open_watches() == 1).await;

    fake.expire_watches();
    let b = fake.apply(pod("shop", "b", "web"));
    let seen = events.until("InitDone").await;
    assert_eq!(
        seen,
        [
            "WatchError(410 Expired)",
            "Init",
            "InitApply(shop/a@3)",
            &format!("InitApply(shop/b@{b})"),
            &format!("InitApply(shop/c@{c})"),
            "InitDone"
        ]
    );
    assert_eq!(store_state(&store), fake_state(&fake, "v1", "Pod"));
    assert_eq!(lists(&fake, "/api/v1/pods"), 2);
}

/// kube 5's watcher treats a watch that fails to start as retryable with the same
/// resourceVersion: an HTTP 410 at watch start (rather than the ERROR event real API
/// servers send) is retried forever and never leads to a relist. This pins that
/// behaviour; if it fails after a kube upgrade, the watcher has learnt to relist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube5_retries_an_http_410_at_watch_start_with_the_same_version() {
    let fake = two_pods();
    fake.set_expired_watch(ExpiredWatch::HttpGone);
    fake.set_bookmark_interval(None);
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(
        watcher(pods.clone(), watcher::Config::default()),
        Duration::from_millis(20),
    );
    events.until("InitDone").await;
    fake.set_down(true);
    events.until("WatchStartFailed").await;
    fake.apply(pod("shop", "c", "web"));
    fake.compact();
    fake.set_down(false);

    let seen = events.within(Duration::from_secs(1)).await;
    let gone = seen
        .iter()
        .filter(|e| *e == "WatchStartFailed(410 Expired)")
        .count();
    assert!(gone >= 3, "{seen:?}");
    assert!(!seen.contains(&"Init".to_string()), "{seen:?}");
    assert_eq!(lists(&fake, "/api/v1/pods"), 1);
    assert!(watch_versions(&fake, "/api/v1/pods")
        .iter()
        .all(|v| v == "3"));

    // A new watcher lists afresh.
    let mut fresh = Recorder::new(watcher(pods, watcher::Config::default()), Duration::ZERO);
    let seen = fresh.until("InitDone").await;
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_down_at_start_is_waited_for_with_the_default_backoff() {
    let fake = two_pods();
    fake.set_down(true);
    let pods: Api<Pod> = Api::all(client(&fake));
    let (store, mut events) = reflect(pods, watcher::Config::default(), true);
    // ListWatch emits Init before each list attempt.
    events.expect(&["Init", "InitialListFailed"]).await;
    let started = Instant::now();
    events.expect(&["Init", "InitialListFailed"]).await;
    // The default backoff waited 0.8 s to 1.6 s (jittered) before retrying.
    assert!(started.elapsed() >= Duration::from_millis(700));
    fake.set_down(false);
    let seen = events.until("InitDone").await;
    assert_eq!(
        seen.last_chunk::<4>().unwrap(),
        &[
            "Init",
            "InitApply(shop/a@3)",
            "InitApply(shop/b@2)",
            "InitDone"
        ]
    );
    assert_eq!(store_state(&store), fake_state(&fake, "v1", "Pod"));
    let e = fake.apply(pod("shop", "e", "web"));
    events.expect(&[&format!("Apply(shop/e@{e})")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_arrive_and_advance_the_watchers_version() {
    let fake = two_pods();
    fake.set_bookmark_interval(Some(Duration::from_millis(50)));
    let pods: Api<Pod> = Api::all(client(&fake));

    // Raw: a BOOKMARK carries the current resourceVersion, whatever collection moved it.
    let mut raw = pods
        .watch(&WatchParams::default(), "3")
        .await
        .unwrap()
        .boxed();
    let rv = fake.apply(namespace("bank"));
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, raw.next())
            .await
            .expect("a bookmark in time")
            .expect("the stream goes on")
            .expect("an event");
        match ev {
            WatchEvent::Bookmark(b) if b.metadata.resource_version == rv.to_string() => {
                assert_eq!(
                    (b.types.api_version, b.types.kind),
                    ("v1".into(), "Pod".into())
                );
                break;
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("{other:?}"),
        }
    }
    drop(raw);

    // The watcher takes the bookmark's version: it resumes from there after a drop.
    let mut events = Recorder::new(
        watcher(pods, watcher::Config::default()).default_backoff(),
        Duration::ZERO,
    );
    events.until("InitDone").await;
    let rv = fake.apply(namespace("hr"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.drop_watches();
    eventually("a new watch", || {
        watch_versions(&fake, "/api/v1/pods").len() == 3
    })
    .await;
    assert_eq!(watch_versions(&fake, "/api/v1/pods")[2], rv.to_string());
    // Bookmarks are not events: nothing reached the watcher's consumer.
    assert_eq!(
        events.within(Duration::from_millis(100)).await,
        Vec::<String>::new()
    );

    // With bookmarks disallowed by the client, none is sent.
    let wp = WatchParams::default().disable_bookmarks().timeout(1);
    let raw = Api::<Pod>::all(client(&fake))
        .watch(&wp, "3")
        .await
        .unwrap();
    let all: Vec<_> = tokio::time::timeout(WAIT, raw.collect::<Vec<_>>())
        .await
        .expect("the watch ends after timeoutSeconds");
    assert!(all.is_empty(), "{:?}", all.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_after_timeout_seconds_and_is_resumed() {
    let fake = two_pods();
    fake.set_bookmark_interval(None);
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(
        watcher(pods.clone(), watcher::Config::default().timeout(1)),
        Duration::ZERO,
    );
    events.until("InitDone").await;
    let started = Instant::now();
    eventually("the second watch", || {
        watch_versions(&fake, "/api/v1/pods").len() >= 2
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(800));

    // A cap on watch duration makes watches short whatever the client asks.
    fake.set_max_watch_duration(Some(Duration::from_millis(100)));
    let mut capped = Recorder::new(watcher(pods, watcher::Config::default()), Duration::ZERO);
    capped.until("InitDone").await;
    eventually("several watches", || {
        watch_versions(&fake, "/api/v1/pods").len() >= 6
    })
    .await;
    let x = fake.apply(pod("shop", "x", "web"));
    events.expect(&[&format!("Apply(shop/x@{x})")]).await;
    capped.expect(&[&format!("Apply(shop/x@{x})")]).await;
    // Graceful ends are not errors and need no relist.
    assert_eq!(lists(&fake, "/api/v1/pods"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_list_watch_and_get() {
    let fake = ApiFake::start(vec![pod("shop", "a", "api"), pod("bank", "vault", "vault")]);
    let shop: Api<Pod> = Api::namespaced(client(&fake), "shop");
    let mut events = Recorder::new(
        watcher(shop.clone(), watcher::Config::default()),
        Duration::ZERO,
    );
    events
        .expect(&["Init", "InitApply(shop/a@1)", "InitDone"])
        .await;
    fake.apply(pod("bank", "x", "web"));
    let y = fake.apply(pod("shop", "y", "web"));
    events.expect(&[&format!("Apply(shop/y@{y})")]).await;
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/shop/pods?") && r.contains("watch=true")),
        "{:?}",
        fake.requests()
    );

    let a = shop.get("a").await.unwrap();
    assert_eq!(a.metadata.resource_version.as_deref(), Some("1"));
    assert!(a.metadata.uid.is_some() && a.metadata.creation_timestamp.is_some());
    let err = shop.get("vault").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    let ns = Api::<Namespace>::all(client(&fake)).get("shop").await;
    assert!(
        matches!(ns, Err(kube::Error::Api(ref s)) if s.code == 404),
        "{ns:?}"
    );
    let version = client(&fake).apiserver_version().await.unwrap();
    assert_eq!(version.minor, "33");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_a_consistent_snapshot_until_compacted() {
    let fake = ApiFake::start(
        (0..5)
            .map(|i| pod("shop", &format!("p{i}"), "api"))
            .collect(),
    );
    let pods: Api<Pod> = Api::all(client(&fake));
    let first = pods.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.resource_version.as_deref(), Some("5"));
    fake.apply(pod("shop", "p0", "web"));
    fake.apply(pod("shop", "p3", "web"));
    fake.delete("v1", "Pod", "shop", "p4");
    let token = first.metadata.continue_.unwrap();
    let second = pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    // The snapshot of the first page: p3 unchanged, p4 still there, same version.
    assert_eq!(second.metadata.resource_version.as_deref(), Some("5"));
    let names: Vec<_> = second.items.iter().map(|p| p.name_any()).collect();
    assert_eq!(names, ["p2", "p3"]);
    assert_eq!(second.items[1].labels()["app"], "api");
    let third = pods
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(&second.metadata.continue_.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(third.items[0].name_any(), "p4");
    assert!(third.metadata.continue_.is_none());

    let fresh = pods.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(fresh.metadata.resource_version.as_deref(), Some("8"));
    fake.compact();
    let token = fresh.metadata.continue_.unwrap();
    let err = pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 410 && s.reason == "Expired"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_end_with_the_initial_events_bookmark() {
    let fake = two_pods();
    fake.set_bookmark_interval(None);
    let pods: Api<Pod> = Api::all(client(&fake));
    let mut events = Recorder::new(
        watcher(pods, watcher::Config::default().streaming_lists()),
        Duration::ZERO,
    );
    events
        .expect(&[
            "Init",
            "InitApply(shop/a@3)",
            "InitApply(shop/b@2)",
            "InitDone",
        ])
        .await;
    let c = fake.apply(pod("shop", "c", "web"));
    events.expect(&[&format!("Apply(shop/c@{c})")]).await;
    assert_eq!(lists(&fake, "/api/v1/pods"), 0);
    assert!(fake.requests()[0].contains("sendInitialEvents=true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_lists_and_watches() {
    let fake = two_pods();
    fake.set_latency(Duration::from_millis(300));
    let pods: Api<Pod> = Api::all(client(&fake));
    let started = Instant::now();
    pods.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let _stream = pods.watch(&WatchParams::default(), "3").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_hit_watches_too() {
    let fake = two_pods();
    fake.set_bookmark_interval(None);
    let pods: Api<Pod> = Api::all(client(&fake));
    fake.fail_next("/api/v1/pods?watch=true", 500);
    let mut events = Recorder::new(watcher(pods, watcher::Config::default()), Duration::ZERO);
    events.until("InitDone").await;
    assert_eq!(events.next().await, "WatchStartFailed(500 InternalError)");
    let c = fake.apply(pod("shop", "c", "web"));
    events.expect(&[&format!("Apply(shop/c@{c})")]).await;
    assert_eq!(watch_versions(&fake, "/api/v1/pods"), ["3", "3"]);
}

mod wire {
    //! The bytes on the wire, read with a plain blocking socket (no client library).
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    struct Response {
        status: u16,
        headers: Vec<String>,
        /// Chunk payloads (chunked) or the whole body.
        chunks: Vec<String>,
    }

    fn get(fake: &ApiFake, target: &str) -> Response {
        let addr = fake.url().trim_start_matches("http://").to_string();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: fake\r\nAccept: application/json\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            headers.push(line.trim_end().to_string());
        }
        let mut chunks = Vec::new();
        if let Some(len) = headers
            .iter()
            .find_map(|h| h.strip_prefix("Content-Length: "))
        {
            let mut body = vec![0; len.parse().unwrap()];
            r.read_exact(&mut body).unwrap();
            chunks.push(String::from_utf8(body).unwrap());
            return Response {
                status,
                headers,
                chunks,
            };
        }
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let len = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut data = vec![0; len + 2];
            r.read_exact(&mut data).unwrap();
            if len == 0 {
                return Response {
                    status,
                    headers,
                    chunks,
                };
            }
            data.truncate(len);
            chunks.push(String::from_utf8(data).unwrap());
        }
    }

    fn event(chunk: &str) -> Value {
        assert!(chunk.ends_with('\n'), "{chunk:?}");
        serde_json::from_str(chunk.trim_end()).unwrap()
    }

    #[test]
    fn a_watch_is_chunked_newline_delimited_json() {
        let fake = two_pods();
        fake.set_bookmark_interval(Some(Duration::from_millis(100)));
        let r = get(
            &fake,
            "/api/v1/pods?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion=2",
        );
        assert_eq!(r.status, 200);
        assert!(r
            .headers
            .contains(&"Transfer-Encoding: chunked".to_string()));
        assert!(r
            .headers
            .contains(&"Content-Type: application/json".to_string()));
        let added = event(&r.chunks[0]);
        assert_eq!(added["type"], "ADDED");
        assert_eq!(added["object"]["metadata"]["name"], "a");
        assert_eq!(added["object"]["metadata"]["resourceVersion"], "3");
        // Bookmarks until the watch ends after timeoutSeconds, with the final chunk.
        assert!(r.chunks.len() >= 5, "{}", r.chunks.len());
        for c in &r.chunks[1..] {
            assert_eq!(
                event(c),
                json!({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                       "metadata": {"resourceVersion": "3"}}})
            );
        }
    }

    #[test]
    fn an_expired_watch_gets_a_410_status_in_band_or_as_the_response() {
        let fake = two_pods();
        fake.compact();
        let target = "/api/v1/pods?watch=true&resourceVersion=2";
        let r = get(&fake, target);
        assert_eq!(r.status, 200);
        assert_eq!(r.chunks.len(), 1);
        let expired = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "too old resource version: 2 (3)",
            "reason": "Expired", "code": 410});
        assert_eq!(
            event(&r.chunks[0]),
            json!({"type": "ERROR", "object": expired})
        );
        // The current version is not too old.
        fake.set_bookmark_interval(None);
        let r = get(
            &fake,
            "/api/v1/pods?watch=true&resourceVersion=3&timeoutSeconds=1",
        );
        assert_eq!((r.status, r.chunks.len()), (200, 0));

        fake.set_expired_watch(ExpiredWatch::HttpGone);
        let r = get(&fake, target);
        assert_eq!(r.status, 410);
        let body: Value = serde_json::from_str(&r.chunks[0]).unwrap();
        assert_eq!(body, expired);
    }

    #[test]
    fn a_list_reports_the_current_version_and_typed_kind() {
        let fake = two_pods();
        let r = get(&fake, "/api/v1/pods");
        let list: Value = serde_json::from_str(&r.chunks[0]).unwrap();
        assert_eq!(list["kind"], "PodList");
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["metadata"]["resourceVersion"], "3");
        let r = get(&fake, "/api/v1/namespaces/shop/pods?limit=1");
        let list: Value = serde_json::from_str(&r.chunks[0]).unwrap();
        assert_eq!(list["items"][0]["metadata"]["name"], "a");
        assert_eq!(list["metadata"]["remainingItemCount"], 1);
        let r = get(&fake, "/apis/apps/v1/deployments");
        let list: Value = serde_json::from_str(&r.chunks[0]).unwrap();
        assert_eq!(
            (
                list["kind"].as_str(),
                list["items"].as_array().map(Vec::len)
            ),
            (Some("DeploymentList"), Some(0))
        );
    }
}
