//! HTTP/1.1 on hyper: the accept loop and the connections, each request recorded and
//! put through the server-wide faults (down, latency) before it is routed.

use crate::route::{self, Reply};
use crate::state::Shared;
use crate::status::status;
use crate::watch_stream::{Cut, WatchStream};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

type Body = BoxBody<Bytes, Cut>;

/// The service error that makes hyper close the connection without an answer.
#[derive(Debug)]
struct Unanswered;

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the fake is down")
    }
}

impl std::error::Error for Unanswered {}

/// Binds 127.0.0.1, sends the address, and serves until the fake is dropped.
pub(crate) async fn accept_loop(shared: Arc<Shared>, addr: std::sync::mpsc::Sender<SocketAddr>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    addr.send(listener.local_addr().expect("addr"))
        .expect("send addr");
    let mut changed = shared.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.lock().faults.down {
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

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let service = hyper::service::service_fn(move |req| answer(shared.clone(), req));
    // Keep-alive as the API server; no header timeout, which would need a timer and
    // close connections the clients keep idle between watches. Header names in title
    // case, as Go's net/http writes them. The error is how a cut watch or an unanswered
    // request ends its connection: nothing to report.
    let _ = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Unanswered> {
    let (parts, body) = req.into_parts();
    // The whole request is read first, so that the connection can serve the next one.
    body.collect().await.map_err(|_| Unanswered)?;
    let method = parts.method.as_str();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let authorization = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (latency, refusal) = {
        let mut s = shared.lock();
        s.requests.push(format!("{method} {target}"));
        if s.faults.down {
            return Err(Unanswered);
        }
        (
            s.faults.latency,
            s.faults.refusal(authorization, parts.uri.path()),
        )
    };
    if let Some((code, reason, message)) = refusal {
        let body = Full::new(Bytes::from(status(code, reason, &message).to_string()));
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(response(code, body.map_err(|never| match never {}).boxed()));
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
        if shared.lock().faults.down {
            return Err(Unanswered);
        }
    }
    let reply = route::respond(&mut shared.lock(), method, target);
    Ok(match reply {
        Reply::Json(code, value) => {
            let full = Full::new(Bytes::from(value.to_string()));
            // Only a code outside 100..=999 (from `fail_next`) has no status line.
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response(code, full.map_err(|never| match never {}).boxed())
        }
        Reply::Watch(plan) => {
            // No size hint: hyper sends it chunked.
            let body = WatchStream::new(shared.clone(), plan).into_body();
            let mut r = response(StatusCode::OK, body.boxed());
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
            r
        }
    })
}

fn response(code: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
