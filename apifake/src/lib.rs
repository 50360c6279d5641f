//! An in-repo fake of the Kubernetes API server for tests. It speaks list, get and watch
//! over real HTTP/1.1 (hyper) on a loopback port, faithfully enough for kube-runtime's
//! watcher and reflector, and is scriptable from the test thread.
//!
//! - Objects live per collection (`/api/v1/pods`, `/apis/networking.k8s.io/v1/networkpolicies`)
//!   under one global, monotonically increasing resourceVersion. Every stored object
//!   carries `metadata.resourceVersion`, `metadata.uid` and `metadata.creationTimestamp`.
//!   [`ApiFake::apply`] and [`ApiFake::delete`] mutate them and emit watch events.
//! - List: cluster-wide (`/api/v1/pods`) and namespaced (`/api/v1/namespaces/NS/pods`)
//!   paths, in etcd key order (namespace, name), with `limit`/`continue` paging over a
//!   consistent snapshot: every page carries the resourceVersion of the first one.
//! - Watch (`?watch=true&resourceVersion=RV`): newline-delimited JSON events in a
//!   chunked 200 response, starting with the events after RV from the retained history;
//!   BOOKMARK events every bookmark interval when `allowWatchBookmarks=true`; a graceful
//!   end after `timeoutSeconds`. A watch from an RV older than the retained history is
//!   answered like kube-apiserver does (an ERROR event with a 410 `Expired` Status inside
//!   a 200 stream), or, if chosen with [`ApiFake::set_expired_watch`], with HTTP 410.
//!   `resourceVersion` unset or `0` starts with synthetic ADDED events of the current
//!   state; `sendInitialEvents=true` ends those with the `k8s.io/initial-events-end`
//!   bookmark (streaming lists).
//! - Served resources: a fixed set of built-in kinds (Pods, Namespaces, Nodes,
//!   NetworkPolicies, workloads, ...), plus the kinds of CustomResourceDefinitions that
//!   tests install and delete at runtime ([`ApiFake::install_crd`], [`ApiFake::remove_crd`]).
//!   Anything else is answered 404, and the discovery documents (`/api`, `/api/v1`,
//!   `/apis`, `/apis/GROUP`, `/apis/GROUP/VERSION`) list exactly what is served now.
//! - Faults: [`ApiFake::fail_next`], [`ApiFake::drop_watches`], [`ApiFake::expire_watches`],
//!   [`ApiFake::compact`], [`ApiFake::set_latency`], [`ApiFake::set_down`]; authentication
//!   and RBAC refusals: [`ApiFake::require_token`] (401), [`ApiFake::forbid`] (403).
//!
//! Label and field selectors are ignored; only GET is served.
//!
//! It runs on its own thread and runtime, so sync and async tests can both use it; the
//! thread and every connection end when the [`ApiFake`] is dropped.
//!
//! Modules: `store` (objects, resourceVersions, history), `resources` (what is served),
//! `discovery` (its documents), `list` (paging, `continue`),
//! `watch` (starting and keeping watches), `watch_stream` (sending them), `faults`,
//! `route` (paths to answers) and `server` (HTTP).

mod discovery;
mod event;
mod faults;
mod kinds;
mod list;
mod query;
mod resources;
mod route;
mod server;
mod state;
mod status;
mod store;
mod timestamp;
mod watch;
mod watch_stream;

pub use kinds::collection_path;
pub use resources::Scope;
pub use watch::{ExpiredWatch, DEFAULT_BOOKMARK_INTERVAL};

use serde_json::Value;
use state::{Shared, State};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use watch::WatchEnd;

/// A Kubernetes API server fake serving on 127.0.0.1; see the crate docs.
pub struct ApiFake {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ApiFake {
    /// Starts serving `objects` (each with apiVersion, kind and metadata.name) on 127.0.0.1.
    /// Each object is applied in turn, so the first has resourceVersion 1. Objects of CRD
    /// kinds are applied after [`ApiFake::install_crd`].
    ///
    /// # Panics
    /// If an object's kind is not served (see [`ApiFake::apply`]).
    pub fn start(objects: Vec<Value>) -> ApiFake {
        let mut state = State::default();
        for o in objects {
            state.apply(o);
        }
        let shared = Arc::new(Shared::new(state));
        let (tx, rx) = std::sync::mpsc::channel();
        let served = shared.clone();
        std::thread::Builder::new()
            .name("apifake".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake runtime");
                // Dropping the runtime after the loop ends every connection's task.
                rt.block_on(server::accept_loop(served, tx));
            })
            .expect("spawn the fake's thread");
        let addr = rx.recv().expect("fake started");
        ApiFake { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates or replaces an object (by apiVersion, kind, namespace and name) and emits
    /// ADDED or MODIFIED. `metadata.resourceVersion` is set to the new resourceVersion,
    /// which is returned; `uid` and `creationTimestamp` are kept from the replaced object,
    /// or made up, when absent.
    ///
    /// # Panics
    /// If the object's kind is not served: neither built in nor of an installed CRD.
    pub fn apply(&self, obj: Value) -> u64 {
        let rv = self.shared.lock().apply(obj);
        self.shared.notify();
        rv
    }

    /// Deletes an object and emits DELETED with its last state, whose resourceVersion
    /// is the new one, returned. `None` (and no event) when there is no such object.
    /// `namespace` is "" for cluster-scoped kinds.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<u64> {
        let rv = self
            .shared
            .lock()
            .delete(&collection_path(api_version, kind), namespace, name);
        self.shared.notify();
        rv
    }

    /// Installs a CustomResourceDefinition serving `kind` at `api_version`
    /// (`group/version`), its plural the lower-cased English plural of the kind
    /// (`clusternetworkpolicies`): its collection is listed and watched from now on, and
    /// discovery shows its group and version. Installing it again changes nothing.
    ///
    /// # Panics
    /// If the kind is a built-in one.
    pub fn install_crd(&self, api_version: &str, kind: &str, scope: Scope) {
        self.shared.lock().install_crd(api_version, kind, scope);
        self.shared.notify();
    }

    /// Deletes the CustomResourceDefinition of `kind` at `api_version`, as the API server
    /// does: every object of it is deleted (a DELETED event each), then the watches of it
    /// end gracefully, and from then on its paths are answered 404 and discovery no
    /// longer shows it (nor its group or version, if nothing else is served there).
    /// Returns whether it was installed.
    pub fn remove_crd(&self, api_version: &str, kind: &str) -> bool {
        let removed = self.shared.lock().remove_crd(api_version, kind);
        self.shared.notify();
        removed
    }

    /// The stored object, as the API server would return it.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let s = self.shared.lock();
        s.store
            .get(&collection_path(api_version, kind), namespace, name)
            .cloned()
    }

    /// Every stored object of a kind, in list order (namespace, name).
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        self.shared
            .lock()
            .store
            .current(&collection_path(api_version, kind), None)
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.resource_version()
    }

    /// Drops the event history of every collection and expires the `continue` tokens of
    /// lists in progress, as an etcd compaction at the current resourceVersion would: a
    /// new watch from an older resourceVersion is then expired (410). Open watches go on.
    pub fn compact(&self) {
        self.shared.lock().compact();
    }

    /// Keeps at most `max` events per collection (`None`: all, the default); a watch from
    /// before the oldest one kept is expired (410). Open watches are not affected.
    pub fn set_max_history(&self, max: Option<usize>) {
        self.shared.lock().store.set_max_history(max);
    }

    /// How a watch from an expired resourceVersion is answered (default: an ERROR event).
    pub fn set_expired_watch(&self, how: ExpiredWatch) {
        self.shared.lock().watches.expired = how;
    }

    /// The interval between BOOKMARK events on watches that allow them (`None`: never).
    /// Default [`DEFAULT_BOOKMARK_INTERVAL`].
    pub fn set_bookmark_interval(&self, every: Option<Duration>) {
        self.shared.lock().watches.bookmark_interval = every;
        self.shared.notify();
    }

    /// Ends every watch after at most `max`, whatever its `timeoutSeconds` (`None`: no cap).
    pub fn set_max_watch_duration(&self, max: Option<Duration>) {
        self.shared.lock().watches.max_duration = max;
    }

    /// Answers the next request whose target (path and query, e.g. `/api/v1/pods` or
    /// `/api/v1/pods?watch=true`) starts with `prefix` with `status` and a Status body.
    /// A leading `&` in the query (kube-client sends `/api/v1/pods?&watch=true&...`) is
    /// ignored for matching.
    pub fn fail_next(&self, prefix: &str, status: u16) {
        self.shared.lock().faults.fail_next(prefix, status);
    }

    /// Closes every open watch connection abruptly, mid-stream and without the final
    /// chunk, as a crashed API server or a dropped connection would. No event applied
    /// after this returns is sent on those connections.
    pub fn drop_watches(&self) {
        self.shared.lock().watches.end_all(WatchEnd::Drop);
        self.shared.notify();
    }

    /// Compacts (see [`ApiFake::compact`]) and ends every open watch with an ERROR event
    /// carrying a 410 `Expired` Status ("The resourceVersion for the provided watch is too
    /// old."), as etcd compaction does to a watch that fell behind. Clients must relist.
    pub fn expire_watches(&self) {
        let mut s = self.shared.lock();
        s.compact();
        s.watches.end_all(WatchEnd::Expire);
        drop(s);
        self.shared.notify();
    }

    /// Delays every answer by `latency`: lists and gets before the response, watches
    /// before the response headers.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().faults.latency = latency;
    }

    /// While down, every new connection is closed as soon as it is accepted, and every
    /// request on an open connection closes it unanswered; going down also drops every
    /// open watch (see [`ApiFake::drop_watches`]).
    pub fn set_down(&self, down: bool) {
        let mut s = self.shared.lock();
        s.faults.down = down;
        if down {
            s.watches.end_all(WatchEnd::Drop);
        }
        drop(s);
        self.shared.notify();
    }

    /// From now on every request must carry `Authorization: Bearer TOKEN` (`None`: any
    /// request is served); others are answered 401 Unauthorized, as an API server does
    /// to rejected credentials. [`ApiFake::kubeconfig_with_token`] carries it.
    pub fn require_token(&self, token: Option<&str>) {
        self.shared.lock().faults.token = token.map(str::to_string);
    }

    /// Answers requests to the cluster-wide collection `path` (`/api/v1/pods`,
    /// `/apis/networking.k8s.io/v1/networkpolicies`) with 403 Forbidden and the message
    /// kube-apiserver's RBAC authorizer gives, as to a user no ClusterRole lets list it.
    pub fn forbid(&self, path: &str) {
        self.shared.lock().faults.forbidden.push(path.to_string());
    }

    /// The number of watch responses being streamed now.
    pub fn open_watches(&self) -> usize {
        self.shared.lock().watches.len()
    }

    /// Request lines received so far (`GET /api/v1/pods?limit=500`), watches included.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// A kubeconfig whose current context points at the fake.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        self.kubeconfig_for("{}", namespace)
    }

    /// A kubeconfig whose current context points at the fake, its user sending `token`.
    pub fn kubeconfig_with_token(&self, namespace: &str, token: &str) -> String {
        self.kubeconfig_for(&format!("{{token: {token}}}"), namespace)
    }

    fn kubeconfig_for(&self, user: &str, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             users:\n- name: fake\n  user: {user}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
             current-context: fake\n",
            self.url()
        )
    }
}

impl Drop for ApiFake {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.notify();
    }
}
