//! An in-repo fake of the Kubernetes API server for tests: it serves the list endpoints
//! of the resources netfence reads, over real HTTP/1.1 on a loopback port, with
//! pagination (`limit`/`continue`) and injectable failures.
//!
//! It runs on its own thread and runtime, so sync and async tests can both use it.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The collection path of a kind, as the API server serves it cluster-wide.
pub fn collection_path(api_version: &str, kind: &str) -> String {
    let plural = match kind {
        "NetworkPolicy" => "networkpolicies".to_string(),
        k => format!("{}s", k.to_ascii_lowercase()),
    };
    if api_version.contains('/') {
        format!("/apis/{api_version}/{plural}")
    } else {
        format!("/api/{api_version}/{plural}")
    }
}

#[derive(Default)]
struct State {
    /// Objects by collection path.
    collections: BTreeMap<String, Vec<Value>>,
    resource_version: u64,
    /// Failures to answer before serving normally: (path prefix, status code).
    failures: Vec<(String, u16)>,
    requests: Vec<String>,
}

pub struct ApiFake {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl ApiFake {
    /// Starts serving `objects` (each with apiVersion and kind) on 127.0.0.1.
    pub fn start(objects: Vec<Value>) -> ApiFake {
        let state = Arc::new(Mutex::new(State::default()));
        for o in objects {
            Self::insert(&state, o);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let served = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(serve(stream, served.clone()));
                }
            });
        });
        let addr = rx.recv().expect("fake started");
        ApiFake { addr, state }
    }

    fn insert(state: &Arc<Mutex<State>>, o: Value) {
        let api = o["apiVersion"].as_str().unwrap_or("v1").to_string();
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let mut s = state.lock().unwrap();
        s.resource_version += 1;
        s.collections
            .entry(collection_path(&api, &kind))
            .or_default()
            .push(o);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next request whose path starts with `prefix` with `status`.
    pub fn fail_next(&self, prefix: &str, status: u16) {
        self.state
            .lock()
            .unwrap()
            .failures
            .push((prefix.to_string(), status));
    }

    /// Request lines received so far (`GET /api/v1/pods?limit=500`).
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
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

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn respond(state: &Mutex<State>, target: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut s = state.lock().unwrap();
    if let Some(i) = s.failures.iter().position(|(p, _)| path.starts_with(p)) {
        let (_, code) = s.failures.remove(i);
        let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("injected failure {code}"), "code": code});
        return (code, status);
    }
    let items = s.collections.get(path).cloned().unwrap_or_default();
    let start: usize = query_param(query, "continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query_param(query, "limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(items.len());
    let page: Vec<Value> = items[start.min(items.len())..end].to_vec();
    let mut metadata = json!({"resourceVersion": s.resource_version.to_string()});
    if end < items.len() {
        metadata["continue"] = json!(end.to_string());
    }
    (
        200,
        json!({"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": page}),
    )
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Headers up to the blank line; requests here carry no body.
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) if header == "\r\n" || header == "\n" => break,
                Ok(_) => {}
            }
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        state
            .lock()
            .unwrap()
            .requests
            .push(format!("{method} {target}"));
        let (code, body) = respond(&state, target);
        let body = body.to_string();
        let reason = if code == 200 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if write.write_all(head.as_bytes()).await.is_err()
            || write.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}
