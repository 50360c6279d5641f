//! `/metrics`, `/healthz`, `/readyz` and `/drops` over plain HTTP/1.1.

use crate::state::Shared;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (code, ctype, body) = match path.as_str() {
                "/metrics" => (
                    200,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    shared.metrics.encode(),
                ),
                "/healthz" => (200, "text/plain", "ok\n".to_string()),
                "/readyz" if shared.is_ready() => (200, "text/plain", "ready\n".to_string()),
                "/readyz" => (
                    503,
                    "text/plain",
                    "not ready: waiting for the first sync and apply\n".to_string(),
                ),
                "/drops" => (200, "application/json", shared.drops_json()),
                _ => (404, "text/plain", "not found\n".to_string()),
            };
            let reason = match code {
                200 => "OK",
                404 => "Not Found",
                _ => "Service Unavailable",
            };
            let head = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(body.as_bytes()).await;
        });
    }
}
