//! `/metrics`, `/healthz`, `/readyz` and `/drops` over HTTP/1.1 (hyper).
//!
//! The port is on the node's network, where every pod can reach it, so nothing a client
//! sends may cost more than a bounded amount: request heads are capped in size and
//! header count (431 beyond), a connection gets `timeout` to send its request and take
//! the answer, at most `max_connections` are open (when full, the oldest connection
//! that has not sent its request yet is closed to make room, so idle connections cannot
//! lock probes out), one request per connection, and accept errors (out of file
//! descriptors) back off instead of spinning. `/drops` names every tenant's pods,
//! policies and flows: it is answered to loopback peers only.

use crate::health::{self, Bounds, Verdict};
use crate::state::Shared;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 32;
/// hyper's read buffer: a head larger than this is refused before it is parsed.
const MAX_BUF_BYTES: usize = 2 * MAX_HEAD_BYTES;
/// The port when `--metrics-addr` is a bare address.
pub const DEFAULT_PORT: u16 = 9090;
/// How long a new connection may wait for the slot of an evicted one.
const EVICTION_WAIT: Duration = Duration::from_secs(1);
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Open connections at most (over every listener).
    pub max_connections: usize,
    /// Time a connection gets from accept to the end of its answer.
    pub timeout: Duration,
    pub health: Bounds,
}

/// `--metrics-addr`: `IP:PORT`, `[IPv6]:PORT` or a bare IP (port 9090), so that the
/// downward API's `status.hostIP` can be passed as it is, IPv6 included.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DEFAULT_PORT))
        .map_err(|_| format!("{s:?} is neither IP:PORT, [IPv6]:PORT nor an IP address"))
}

/// Serves every listener until the process ends.
pub fn spawn(listeners: Vec<TcpListener>, shared: Arc<Shared>, opts: Options) {
    let server = Arc::new(Server {
        shared,
        opts,
        permits: Arc::new(Semaphore::new(opts.max_connections.max(1))),
        waiting: Mutex::new(Waiting::default()),
    });
    for listener in listeners {
        tokio::spawn(accept_loop(listener, server.clone()));
    }
}

struct Server {
    shared: Arc<Shared>,
    opts: Options,
    permits: Arc<Semaphore>,
    waiting: Mutex<Waiting>,
}

/// Connections that have not sent a complete request head, oldest first.
#[derive(Default)]
struct Waiting {
    next_id: u64,
    queue: VecDeque<(u64, Arc<Notify>)>,
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                match server.admit().await {
                    Some(permit) => {
                        tokio::spawn(server.clone().connection(stream, peer, permit));
                    }
                    // Every slot is answering a request: close this one now rather
                    // than let it queue.
                    None => tracing::debug!(%peer, "too many connections; closed"),
                }
            }
            Err(e) => {
                // EMFILE and the like: the listener stays readable, so retrying at once
                // would spin a core.
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "accepting a connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

impl Server {
    /// A slot for a new connection: a free one, or the slot of the oldest connection
    /// still waiting for its request (closed for it). None: every slot is busy.
    async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        let (_, victim) = self.waiting.lock().expect("lock").queue.pop_front()?;
        victim.notify_one();
        tokio::time::timeout(EVICTION_WAIT, self.permits.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    fn register(&self) -> (u64, Arc<Notify>) {
        let mut w = self.waiting.lock().expect("lock");
        let id = w.next_id;
        w.next_id += 1;
        let evict = Arc::new(Notify::new());
        w.queue.push_back((id, evict.clone()));
        (id, evict)
    }

    /// The connection sent its request (or ended): it is no longer evictable.
    fn unregister(&self, id: u64) {
        self.waiting
            .lock()
            .expect("lock")
            .queue
            .retain(|(i, _)| *i != id);
    }

    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        _permit: OwnedSemaphorePermit,
    ) {
        let (id, evict) = self.register();
        let server = self.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            server.unregister(id);
            let response = server.respond(&req, peer);
            async move { Ok::<_, Infallible>(response) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(false)
            .max_headers(MAX_HEADERS)
            .max_header_size(MAX_HEAD_BYTES)
            .max_buf_size(MAX_BUF_BYTES)
            .timer(TokioTimer::new())
            .header_read_timeout(self.opts.timeout)
            .serve_connection(TokioIo::new(stream), service);
        tokio::select! {
            done = tokio::time::timeout(self.opts.timeout, conn) => match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "http connection"),
                Err(_) => tracing::debug!(%peer, "http connection timed out; closed"),
            },
            _ = evict.notified() => tracing::debug!(%peer, "idle http connection closed to make room"),
        }
        self.unregister(id);
    }

    fn respond(&self, req: &Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
        }
        let now = Instant::now();
        let bounds = &self.opts.health;
        match req.uri().path() {
            "/metrics" => body(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                self.shared.metrics.encode(),
            ),
            "/healthz" => probe(health::liveness(
                &self.shared.health.snapshot(),
                now,
                bounds,
            )),
            "/readyz" => probe(health::readiness(
                &self.shared.health.snapshot(),
                self.shared.feed.all_synced(),
                now,
                bounds,
            )),
            "/drops" if is_local(peer) => body(
                StatusCode::OK,
                "application/json",
                self.shared.enforced.drops_json(),
            ),
            "/drops" => text(
                StatusCode::FORBIDDEN,
                "forbidden: /drops names the pods, policies and flows of every namespace and is \
                 answered to loopback peers only (kubectl port-forward to the controller pod, \
                 or kubectl exec into it)\n"
                    .into(),
            ),
            _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
        }
    }
}

/// A loopback peer, also as an IPv4-mapped IPv6 address (a dual-stack listener).
fn is_local(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

fn probe(v: Verdict) -> Response<Full<Bytes>> {
    let code = if v.pass {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(code, format!("{}\n", v.reason))
}

fn text(code: StatusCode, s: String) -> Response<Full<Bytes>> {
    body(code, "text/plain; charset=utf-8", s)
}

fn body(code: StatusCode, content_type: &'static str, s: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(s)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_a_bare_ip() {
        assert_eq!(
            parse_listen_addr("127.0.0.1:9191").unwrap(),
            "127.0.0.1:9191".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen_addr("10.0.0.5").unwrap(),
            "10.0.0.5:9090".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen_addr("fd00::5").unwrap(),
            "[fd00::5]:9090".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen_addr("[fd00::5]:80").unwrap(),
            "[fd00::5]:80".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listen_addr("node-1:9090").is_err());
    }

    #[test]
    fn loopback_peers_include_mapped_addresses() {
        assert!(is_local("127.0.0.1:1".parse().unwrap()));
        assert!(is_local("[::1]:1".parse().unwrap()));
        assert!(is_local("[::ffff:127.0.0.1]:1".parse().unwrap()));
        assert!(!is_local("10.0.0.1:1".parse().unwrap()));
        assert!(!is_local("[::ffff:10.0.0.1]:1".parse().unwrap()));
    }
}
