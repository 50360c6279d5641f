//! `drops` reads a controller's /drops over real HTTP (a one-shot server here; the
//! controller's own tests check what the real /drops holds).

use std::io::{Read, Write};
use std::process::Command;

fn serve_once(body: &'static str) -> u16 {
    serve_status("200 OK", "application/json", body)
}

fn serve_status(status: &'static str, content_type: &'static str, body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = String::new();
        let mut buf = [0u8; 1024];
        while !req.contains("\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "request ended early: {req:?}");
            req.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(req.starts_with("GET /drops "), "{req:?}");
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    port
}

#[test]
fn prints_counters_and_recent_drops() {
    let port = serve_once(
        r#"{"policy_drops": [{"policy": "shop/db", "direction": "ingress", "packets": 42}], "recent": [{"unix_time": 1, "from": "shop/web", "to": "shop/db", "port": 5432, "protocol": "TCP", "direction": "ingress", "policies": ["shop/db"], "message": "dropped shop/web -> shop/db 5432/TCP: shop/db is isolated for ingress by [shop/db], no rule allows shop/web"}]}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["drops", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("shop/db") && text.contains("42"), "{text}");
    assert!(
        text.contains("dropped shop/web -> shop/db 5432/TCP"),
        "{text}"
    );
}

#[test]
fn an_unreachable_controller_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["drops", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to 127.0.0.1"));
}

#[test]
fn a_refusal_shows_the_controllers_reason() {
    let port = serve_status(
        "403 Forbidden",
        "text/plain",
        "forbidden: /drops is answered to loopback peers only\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netfence"))
        .args(["drops", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 403: forbidden: /drops is answered to loopback peers only"),
        "{err}"
    );
}
