//! An in-repo fake of the Kubernetes API server for tests. It speaks list, get and watch
//! over real HTTP/1.1 on a loopback port, faithfully enough for kube-runtime's watcher
//! and reflector, and is scriptable from the test thread.
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
//! - Faults: [`ApiFake::fail_next`], [`ApiFake::drop_watches`], [`ApiFake::expire_watches`],
//!   [`ApiFake::compact`], [`ApiFake::set_latency`], [`ApiFake::set_down`].
//!
//! Label and field selectors are ignored; only GET is served.
//!
//! It runs on its own thread and runtime, so sync and async tests can both use it; the
//! thread and every connection end when the [`ApiFake`] is dropped.

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The collection path of a kind, as the API server serves it cluster-wide.
pub fn collection_path(api_version: &str, kind: &str) -> String {
    let plural = plural_of(kind);
    if api_version.contains('/') {
        format!("/apis/{api_version}/{plural}")
    } else {
        format!("/api/{api_version}/{plural}")
    }
}

fn plural_of(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with("ss") || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") {
        format!("{k}es")
    } else if k.ends_with('s') {
        k
    } else if let Some(stem) = k
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

/// The kind served at a collection path with no stored object to tell (for bookmarks).
fn kind_of(plural: &str) -> String {
    let singular = if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        plural.strip_suffix('s').unwrap_or(plural).to_string()
    };
    let known = [
        "NetworkPolicy",
        "Pod",
        "Namespace",
        "Service",
        "Node",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "CronJob",
        "Job",
        "ConfigMap",
        "EndpointSlice",
    ];
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&singular))
        .map(|k| k.to_string())
        .unwrap_or_else(|| {
            let mut c = singular.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
}

/// How the fake answers a watch whose resourceVersion is older than the retained history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpiredWatch {
    /// `200 OK`, then one ERROR event whose object is a `Status` with code 410 and
    /// reason `Expired` ("too old resource version: RV (OLDEST)"), then the end of the
    /// stream. This is what kube-apiserver does, from its watch cache and from etcd alike.
    #[default]
    ErrorEvent,
    /// `410 Gone` with the same `Status` as body, before any stream starts.
    HttpGone,
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

struct HistoryEvent {
    rv: u64,
    namespace: String,
    line: Arc<str>,
}

struct Collection {
    api_version: String,
    kind: String,
    /// By (namespace, name): etcd's key order.
    objects: BTreeMap<(String, String), Value>,
    /// Events after `floor`, oldest first.
    history: VecDeque<HistoryEvent>,
    /// Events up to and including this resourceVersion are no longer retained.
    floor: u64,
}

/// A consistent list in progress, for `continue` tokens.
struct Snapshot {
    rv: u64,
    items: Arc<Vec<Value>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WatchEnd {
    /// Close the connection abruptly (no terminating chunk).
    Drop,
    /// Send an ERROR event with a 410 Status, then end the stream.
    Expire,
}

/// An open watch, as the mutators see it.
struct OpenWatch {
    collection: String,
    namespace: Option<String>,
    /// Only events after this resourceVersion are sent.
    after: u64,
    /// Event lines waiting to be written.
    queue: Vec<Arc<str>>,
    end: Option<WatchEnd>,
}

struct State {
    collections: BTreeMap<String, Collection>,
    resource_version: u64,
    uids: u64,
    /// Watches from below this resourceVersion are expired, in every collection.
    compacted: u64,
    max_history: Option<usize>,
    snapshots: BTreeMap<u64, Snapshot>,
    next_snapshot: u64,
    watches: BTreeMap<u64, OpenWatch>,
    next_watch: u64,
    bookmark_interval: Option<Duration>,
    max_watch: Option<Duration>,
    expired_watch: ExpiredWatch,
    latency: Duration,
    down: bool,
    shutdown: bool,
    /// Failures to answer before serving normally: (target prefix, status code).
    failures: Vec<(String, u16)>,
    requests: Vec<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            collections: BTreeMap::new(),
            resource_version: 0,
            uids: 0,
            compacted: 0,
            max_history: None,
            snapshots: BTreeMap::new(),
            next_snapshot: 0,
            watches: BTreeMap::new(),
            next_watch: 0,
            bookmark_interval: Some(DEFAULT_BOOKMARK_INTERVAL),
            max_watch: None,
            expired_watch: ExpiredWatch::default(),
            latency: Duration::ZERO,
            down: false,
            shutdown: false,
            failures: Vec::new(),
            requests: Vec::new(),
        }
    }
}

/// The default interval between BOOKMARK events on a watch that allows them.
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_millis(200);

/// Snapshots kept for `continue` tokens; older ones expire (410 on continue).
const MAX_SNAPSHOTS: usize = 64;

/// How long a watch without `timeoutSeconds` lasts (kube-apiserver's minRequestTimeout).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change the serving tasks may need to react to.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

fn object_key(o: &Value) -> (String, String) {
    let m = &o["metadata"];
    (
        m["namespace"].as_str().unwrap_or_default().to_string(),
        m["name"].as_str().unwrap_or_default().to_string(),
    )
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn status_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

fn event_line(kind: &str, object: &Value) -> Arc<str> {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    line.into()
}

impl State {
    /// The collection for an object, created on first use.
    fn collection_for(&mut self, api_version: &str, kind: &str) -> &mut Collection {
        let floor = self.compacted;
        self.collections
            .entry(collection_path(api_version, kind))
            .or_insert_with(|| Collection {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                floor,
            })
    }

    /// Records an event: history (trimmed) and every open watch it concerns.
    fn emit(&mut self, path: &str, rv: u64, ty: EventType, object: &Value) {
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let line = event_line(ty.as_str(), object);
        for w in self.watches.values_mut() {
            if w.collection == path
                && w.end.is_none()
                && rv > w.after
                && w.namespace.as_ref().is_none_or(|ns| *ns == namespace)
            {
                w.queue.push(line.clone());
            }
        }
        let max = self.max_history;
        let c = self.collections.get_mut(path).expect("collection exists");
        c.history.push_back(HistoryEvent {
            rv,
            namespace,
            line,
        });
        if let Some(max) = max {
            while c.history.len() > max {
                let old = c.history.pop_front().expect("non-empty");
                c.floor = c.floor.max(old.rv);
            }
        }
    }

    fn apply(&mut self, mut obj: Value) -> u64 {
        let api = obj["apiVersion"].as_str().unwrap_or("v1").to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        self.resource_version += 1;
        let rv = self.resource_version;
        let key = object_key(&obj);
        let path = collection_path(&api, &kind);
        let previous = self.collection_for(&api, &kind).objects.get(&key).cloned();
        let meta = &mut obj["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
        for field in ["uid", "creationTimestamp"] {
            if meta[field].is_null() {
                if let Some(old) = previous.as_ref().map(|p| &p["metadata"][field]) {
                    meta[field] = old.clone();
                }
            }
        }
        if meta["uid"].is_null() {
            self.uids += 1;
            meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.uids));
        }
        if meta["creationTimestamp"].is_null() {
            meta["creationTimestamp"] = json!(now_rfc3339());
        }
        let ty = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(&path, rv, ty, &obj);
        self.collections
            .get_mut(&path)
            .expect("collection exists")
            .objects
            .insert(key, obj);
        rv
    }

    fn delete(&mut self, path: &str, namespace: &str, name: &str) -> Option<u64> {
        let key = (namespace.to_string(), name.to_string());
        let mut obj = self.collections.get_mut(path)?.objects.remove(&key)?;
        self.resource_version += 1;
        let rv = self.resource_version;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.emit(path, rv, EventType::Deleted, &obj);
        Some(rv)
    }

    fn compact(&mut self) {
        self.compacted = self.resource_version;
        for c in self.collections.values_mut() {
            c.history.clear();
            c.floor = self.resource_version;
        }
        self.snapshots.clear();
    }

    fn floor(&self, path: &str) -> u64 {
        self.collections
            .get(path)
            .map_or(0, |c| c.floor)
            .max(self.compacted)
    }

    /// The (apiVersion, kind) served at a collection path.
    fn types(&self, path: &str) -> (String, String) {
        if let Some(c) = self.collections.get(path) {
            return (c.api_version.clone(), c.kind.clone());
        }
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let plural = segs.last().copied().unwrap_or_default();
        let api = segs[1..segs.len().saturating_sub(1)].join("/");
        (api, kind_of(plural))
    }

    fn current(&self, path: &str, namespace: Option<&str>) -> Vec<Value> {
        self.collections
            .get(path)
            .map(|c| {
                c.objects
                    .iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A Kubernetes API server fake serving on 127.0.0.1; see the crate docs.
pub struct ApiFake {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ApiFake {
    /// Starts serving `objects` (each with apiVersion, kind and metadata.name) on 127.0.0.1.
    /// Each object is applied in turn, so the first has resourceVersion 1.
    pub fn start(objects: Vec<Value>) -> ApiFake {
        let mut state = State::default();
        for o in objects {
            state.apply(o);
        }
        let (changed, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed,
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let served = shared.clone();
        std::thread::Builder::new()
            .name("apifake".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake runtime");
                rt.block_on(accept_loop(served, tx));
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

    /// The stored object, as the API server would return it.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let s = self.shared.lock();
        s.collections
            .get(&collection_path(api_version, kind))?
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Every stored object of a kind, in list order (namespace, name).
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        self.shared
            .lock()
            .current(&collection_path(api_version, kind), None)
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version
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
        let mut s = self.shared.lock();
        s.max_history = max;
        if let Some(max) = max {
            for c in s.collections.values_mut() {
                while c.history.len() > max {
                    let old = c.history.pop_front().expect("non-empty");
                    c.floor = c.floor.max(old.rv);
                }
            }
        }
    }

    /// How a watch from an expired resourceVersion is answered (default: an ERROR event).
    pub fn set_expired_watch(&self, how: ExpiredWatch) {
        self.shared.lock().expired_watch = how;
    }

    /// The interval between BOOKMARK events on watches that allow them (`None`: never).
    /// Default [`DEFAULT_BOOKMARK_INTERVAL`].
    pub fn set_bookmark_interval(&self, every: Option<Duration>) {
        self.shared.lock().bookmark_interval = every;
        self.shared.notify();
    }

    /// Ends every watch after at most `max`, whatever its `timeoutSeconds` (`None`: no cap).
    pub fn set_max_watch_duration(&self, max: Option<Duration>) {
        self.shared.lock().max_watch = max;
    }

    /// Answers the next request whose target (path and query, e.g. `/api/v1/pods` or
    /// `/api/v1/pods?watch=true`) starts with `prefix` with `status` and a Status body.
    /// A leading `&` in the query (kube-client sends `/api/v1/pods?&watch=true&...`) is
    /// ignored for matching.
    pub fn fail_next(&self, prefix: &str, status: u16) {
        self.shared
            .lock()
            .failures
            .push((prefix.to_string(), status));
    }

    /// Closes every open watch connection abruptly, mid-stream and without the final
    /// chunk, as a crashed API server or a dropped connection would. No event applied
    /// after this returns is sent on those connections.
    pub fn drop_watches(&self) {
        for w in self.shared.lock().watches.values_mut() {
            w.end.get_or_insert(WatchEnd::Drop);
        }
        self.shared.notify();
    }

    /// Compacts (see [`ApiFake::compact`]) and ends every open watch with an ERROR event
    /// carrying a 410 `Expired` Status ("The resourceVersion for the provided watch is too
    /// old."), as etcd compaction does to a watch that fell behind. Clients must relist.
    pub fn expire_watches(&self) {
        let mut s = self.shared.lock();
        s.compact();
        for w in s.watches.values_mut() {
            w.end.get_or_insert(WatchEnd::Expire);
        }
        drop(s);
        self.shared.notify();
    }

    /// Delays every answer by `latency`: lists and gets before the response, watches
    /// before the response headers.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// While down, every new connection is closed as soon as it is accepted, and every
    /// request on an open connection closes it unanswered; going down also drops every
    /// open watch (see [`ApiFake::drop_watches`]).
    pub fn set_down(&self, down: bool) {
        let mut s = self.shared.lock();
        s.down = down;
        if down {
            for w in s.watches.values_mut() {
                w.end.get_or_insert(WatchEnd::Drop);
            }
        }
        drop(s);
        self.shared.notify();
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
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
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

async fn accept_loop(shared: Arc<Shared>, tx: std::sync::mpsc::Sender<SocketAddr>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    tx.send(listener.local_addr().expect("addr"))
        .expect("send addr");
    let mut changed = shared.changed.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.lock().down {
                    drop(stream);
                    continue;
                }
                tokio::spawn(serve(stream, shared.clone()));
            }
            _ = changed.changed() => {
                if shared.lock().shutdown {
                    return;
                }
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

fn query_flag(query: &str, key: &str) -> bool {
    matches!(query_param(query, key).as_deref(), Some("true" | "1"))
}

/// What a request path names.
struct Resource {
    collection: String,
    namespace: Option<String>,
    name: Option<String>,
}

fn parse_path(path: &str) -> Option<Resource> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let prefix_len = match segs.first() {
        Some(&"api") => 2,
        Some(&"apis") => 3,
        _ => return None,
    };
    if segs.len() <= prefix_len || segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let prefix = segs[..prefix_len].join("/");
    let (plural, namespace, name) = match &segs[prefix_len..] {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, None, Some(*name)),
        ["namespaces", ns, plural] => (*plural, Some(*ns), None),
        ["namespaces", ns, plural, name] => (*plural, Some(*ns), Some(*name)),
        _ => return None,
    };
    Some(Resource {
        collection: format!("/{prefix}/{plural}"),
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
    })
}

/// How to answer a request.
enum Reply {
    Json(u16, Value),
    Watch(WatchPlan),
}

/// A watch registered in the state, ready to stream.
struct WatchPlan {
    id: u64,
    /// Lines to send first (replayed history, synthetic ADDED, initial-events-end).
    initial: Vec<Arc<str>>,
    /// End the stream after `initial` (an expired watch).
    end_after_initial: bool,
    collection: String,
    bookmarks: bool,
    deadline: Instant,
}

fn version_info() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-apifake",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
           "platform": "linux/amd64"})
}

fn respond(shared: &Shared, method: &str, target: &str) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut s = shared.lock();
    // kube-client sends `path?&watch=true&...`: match as if the `&` were not there.
    let normalized = format!("{path}?{}", query.trim_start_matches('&'));
    let matched = |p: &String| target.starts_with(p.as_str()) || normalized.starts_with(p.as_str());
    if let Some(i) = s.failures.iter().position(|(p, _)| matched(p)) {
        let (_, code) = s.failures.remove(i);
        let body = status(
            code,
            status_reason(code),
            &format!("injected failure {code}"),
        );
        return Reply::Json(code, body);
    }
    if method != "GET" {
        let msg = format!("the fake serves only GET, not {method}");
        return Reply::Json(405, status(405, "MethodNotAllowed", &msg));
    }
    if path == "/version" {
        return Reply::Json(200, version_info());
    }
    let Some(res) = parse_path(path) else {
        let msg = format!("the server could not find the requested resource ({path})");
        return Reply::Json(404, status(404, "NotFound", &msg));
    };
    if let Some(name) = &res.name {
        let key = (res.namespace.clone().unwrap_or_default(), name.clone());
        return match s
            .collections
            .get(&res.collection)
            .and_then(|c| c.objects.get(&key))
        {
            Some(o) => Reply::Json(200, o.clone()),
            None => {
                let plural = res.collection.rsplit('/').next().unwrap_or_default();
                let msg = format!("{plural} \"{name}\" not found");
                let mut st = status(404, "NotFound", &msg);
                st["details"] = json!({"name": name, "kind": plural});
                Reply::Json(404, st)
            }
        };
    }
    if query_flag(query, "watch") {
        return watch(&mut s, res, query);
    }
    list(&mut s, res, query)
}

fn list(s: &mut State, res: Resource, query: &str) -> Reply {
    let (api_version, kind) = s.types(&res.collection);
    let (rv, items, start) = match query_param(query, "continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let parsed = token
                .split_once('-')
                .and_then(|(id, off)| Some((id.parse::<u64>().ok()?, off.parse::<usize>().ok()?)));
            let Some((id, offset)) = parsed else {
                return Reply::Json(400, status(400, "BadRequest", "invalid continue token"));
            };
            let Some(snap) = s.snapshots.get(&id) else {
                let msg = "The provided continue parameter is too old to display a consistent \
                           list result. You can start a new list without the continue parameter.";
                return Reply::Json(410, status(410, "Expired", msg));
            };
            (snap.rv, snap.items.clone(), offset)
        }
        None => (
            s.resource_version,
            Arc::new(s.current(&res.collection, res.namespace.as_deref())),
            0,
        ),
    };
    let limit: usize = query_param(query, "limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let start = start.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let page: Vec<Value> = items[start..end].to_vec();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    let remaining = items.len() - end;
    if remaining > 0 {
        let id = if start == 0 {
            s.next_snapshot += 1;
            let id = s.next_snapshot;
            s.snapshots.insert(id, Snapshot { rv, items });
            while s.snapshots.len() > MAX_SNAPSHOTS {
                s.snapshots.pop_first();
            }
            id
        } else {
            query_param(query, "continue")
                .and_then(|t| t.split_once('-').and_then(|(id, _)| id.parse().ok()))
                .unwrap_or_default()
        };
        metadata["continue"] = json!(format!("{id}-{end}"));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Reply::Json(
        200,
        json!({"apiVersion": api_version, "kind": format!("{kind}List"),
               "metadata": metadata, "items": page}),
    )
}

fn bookmark_line(api_version: &str, kind: &str, rv: u64, initial_end: bool) -> Arc<str> {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": kind, "apiVersion": api_version, "metadata": metadata}),
    )
}

fn watch(s: &mut State, res: Resource, query: &str) -> Reply {
    let bookmarks = query_flag(query, "allowWatchBookmarks");
    let rv_param = query_param(query, "resourceVersion").unwrap_or_default();
    let from = match rv_param.as_str() {
        "" | "0" => None,
        v => match v.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => {
                let msg = format!("invalid resource version: {v}");
                return Reply::Json(400, status(400, "BadRequest", &msg));
            }
        },
    };
    let mut initial = Vec::new();
    let mut end_after_initial = false;
    let namespace = res.namespace.clone();
    let in_ns = |ns: &str| namespace.as_deref().is_none_or(|n| n == ns);
    match from {
        None => {
            // Start at the current state: synthetic ADDED for every object.
            for o in s.current(&res.collection, namespace.as_deref()) {
                initial.push(event_line("ADDED", &o));
            }
            if query_flag(query, "sendInitialEvents") && bookmarks {
                let (api, kind) = s.types(&res.collection);
                initial.push(bookmark_line(&api, &kind, s.resource_version, true));
            }
        }
        Some(rv) if rv < s.floor(&res.collection) => {
            let msg = format!(
                "too old resource version: {rv} ({})",
                s.floor(&res.collection)
            );
            let st = status(410, "Expired", &msg);
            if s.expired_watch == ExpiredWatch::HttpGone {
                return Reply::Json(410, st);
            }
            initial.push(event_line("ERROR", &st));
            end_after_initial = true;
        }
        Some(rv) => {
            if let Some(c) = s.collections.get(&res.collection) {
                for e in c
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && in_ns(&e.namespace))
                {
                    initial.push(e.line.clone());
                }
            }
        }
    }
    let timeout = query_param(query, "timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    let timeout = s.max_watch.map_or(timeout, |m| timeout.min(m));
    s.next_watch += 1;
    let id = s.next_watch;
    let after = s.resource_version.max(from.unwrap_or(0));
    s.watches.insert(
        id,
        OpenWatch {
            collection: res.collection.clone(),
            namespace,
            after,
            queue: Vec::new(),
            end: None,
        },
    );
    Reply::Watch(WatchPlan {
        id,
        initial,
        end_after_initial,
        collection: res.collection,
        bookmarks,
        deadline: Instant::now() + timeout,
    })
}

/// Removes a watch from the state however its task ends.
struct WatchGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().watches.remove(&self.id);
    }
}

async fn write_chunk(write: &mut OwnedWriteHalf, data: &str) -> std::io::Result<()> {
    let chunk = format!("{:x}\r\n{data}\r\n", data.len());
    write.write_all(chunk.as_bytes()).await
}

/// Streams a watch; true when it ended gracefully and the connection can serve more.
async fn stream_watch(
    shared: &Shared,
    reader: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    plan: WatchPlan,
) -> bool {
    let _guard = WatchGuard {
        shared,
        id: plan.id,
    };
    let head = "HTTP/1.1 200 OK\r\nCache-Control: no-cache, private\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if write.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    for line in &plan.initial {
        if write_chunk(write, line).await.is_err() {
            return false;
        }
    }
    if plan.end_after_initial {
        return write.write_all(b"0\r\n\r\n").await.is_ok();
    }
    let mut changed = shared.changed.subscribe();
    let mut last_bookmark = Instant::now();
    let mut read_open = true;
    loop {
        changed.borrow_and_update();
        let now = Instant::now();
        let (lines, end, next_bookmark) = {
            let mut s = shared.lock();
            let s_down = s.down;
            let interval = s.bookmark_interval.filter(|_| plan.bookmarks);
            let rv = s.resource_version;
            let (api, kind) = s.types(&plan.collection);
            let Some(w) = s.watches.get_mut(&plan.id) else {
                return false;
            };
            let mut lines = std::mem::take(&mut w.queue);
            // A watch registered just as the server went down is dropped too.
            let end = if s_down { Some(WatchEnd::Drop) } else { w.end };
            if let Some(every) = interval {
                if now >= last_bookmark + every {
                    // Every event up to `rv` is in `lines`: the bookmark follows them.
                    lines.push(bookmark_line(&api, &kind, rv, false));
                    last_bookmark = now;
                }
            }
            (lines, end, interval.map(|every| last_bookmark + every))
        };
        match end {
            Some(WatchEnd::Drop) => return false,
            Some(WatchEnd::Expire) => {
                let st = status(
                    410,
                    "Expired",
                    "The resourceVersion for the provided watch is too old.",
                );
                return write_chunk(write, &event_line("ERROR", &st)).await.is_ok()
                    && write.write_all(b"0\r\n\r\n").await.is_ok();
            }
            None => {}
        }
        for line in &lines {
            if write_chunk(write, line).await.is_err() {
                return false;
            }
        }
        if Instant::now() >= plan.deadline {
            return write.write_all(b"0\r\n\r\n").await.is_ok();
        }
        let wake = next_bookmark.map_or(plan.deadline, |b| b.min(plan.deadline));
        tokio::select! {
            r = changed.changed() => {
                if r.is_err() {
                    return false;
                }
            }
            _ = tokio::time::sleep_until(wake) => {}
            r = reader.fill_buf(), if read_open => match r {
                // The client went away.
                Ok([]) | Err(_) => return false,
                // A pipelined request: it waits for the end of the watch.
                Ok(_) => read_open = false,
            },
        }
    }
}

/// Reads one request head (and discards any body): (method, target), or None at EOF.
async fn read_request(reader: &mut BufReader<OwnedReadHalf>) -> Option<(String, String)> {
    let mut request_line = String::new();
    match reader.read_line(&mut request_line).await {
        Ok(0) | Err(_) => return None,
        Ok(_) => {}
    }
    let mut body_len = 0u64;
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header).await {
            Ok(0) | Err(_) => return None,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {
                if let Some((k, v)) = header.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("content-length") {
                        body_len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
        }
    }
    if body_len > 0 {
        let mut sink = tokio::io::sink();
        let mut body = (&mut *reader).take(body_len);
        tokio::io::copy(&mut body, &mut sink).await.ok()?;
    }
    let mut parts = request_line.split_whitespace();
    Some((
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or("/").to_string(),
    ))
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some((method, target)) = read_request(&mut reader).await {
        let latency = {
            let mut s = shared.lock();
            s.requests.push(format!("{method} {target}"));
            if s.down {
                return;
            }
            s.latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
            if shared.lock().down {
                return;
            }
        }
        match respond(&shared, &method, &target) {
            Reply::Json(code, body) => {
                let body = body.to_string();
                let head = format!(
                    "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    reason_phrase(code),
                    body.len()
                );
                if write.write_all(head.as_bytes()).await.is_err()
                    || write.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Reply::Watch(plan) => {
                if !stream_watch(&shared, &mut reader, &mut write, plan).await {
                    return;
                }
            }
        }
    }
}
