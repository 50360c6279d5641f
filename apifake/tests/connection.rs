//! Connection-level behaviour on the wire, with a plain blocking socket: how watches
//! end (the final chunk or none), keep-alive and pipelining around a watch, a server
//! that is down, and a client that hangs up. Every read is bounded by a timeout.

use netfence_apifake::ApiFake;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"}})
}

fn connect(fake: &ApiFake) -> BufReader<TcpStream> {
    let s = TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    BufReader::new(s)
}

fn send(c: &mut BufReader<TcpStream>, target: &str) {
    write!(c.get_mut(), "GET {target} HTTP/1.1\r\nHost: fake\r\n\r\n").unwrap();
}

/// The next line; empty when the connection is closed (or reset, as it may be when the
/// server closes it with our request unread).
fn line(c: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    match c.read_line(&mut l) {
        Ok(_) => l,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => String::new(),
        Err(e) => panic!("reading: {e}"),
    }
}

/// The status and headers of a response; `None` when the connection closed first.
fn head(c: &mut BufReader<TcpStream>) -> Option<(u16, Vec<String>)> {
    let status = line(c);
    if status.is_empty() {
        return None;
    }
    let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let h = line(c);
        if h == "\r\n" {
            return Some((code, headers));
        }
        headers.push(h.trim_end().to_string());
    }
}

/// The next chunk's payload; `None` at the final chunk, `Err` at the end of the connection.
fn chunk(c: &mut BufReader<TcpStream>) -> Result<Option<String>, ()> {
    let size = line(c);
    if size.is_empty() {
        return Err(());
    }
    let len = usize::from_str_radix(size.trim_end(), 16).unwrap();
    let mut data = vec![0; len + 2];
    c.read_exact(&mut data).unwrap();
    data.truncate(len);
    Ok((len > 0).then(|| String::from_utf8(data).unwrap()))
}

fn body(c: &mut BufReader<TcpStream>, headers: &[String]) -> String {
    let len = headers
        .iter()
        .find_map(|h| h.strip_prefix("Content-Length: "))
        .expect("a Content-Length");
    let mut b = vec![0; len.parse().unwrap()];
    c.read_exact(&mut b).unwrap();
    String::from_utf8(b).unwrap()
}

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn events_are_flushed_as_they_happen_and_a_dropped_watch_has_no_final_chunk() {
    let fake = ApiFake::start(vec![pod("a")]);
    fake.set_bookmark_interval(None);
    let mut c = connect(&fake);
    send(&mut c, "/api/v1/pods?watch=true&resourceVersion=1");
    assert_eq!(head(&mut c).unwrap().0, 200);
    for name in ["b", "c"] {
        let rv = fake.apply(pod(name));
        let event: Value = serde_json::from_str(&chunk(&mut c).unwrap().unwrap()).unwrap();
        assert_eq!(
            event["object"]["metadata"]["resourceVersion"],
            rv.to_string()
        );
    }
    fake.drop_watches();
    assert_eq!(chunk(&mut c), Err(()));
    eventually("the watch to close", || fake.open_watches() == 0);
}

#[test]
fn a_connection_serves_the_request_pipelined_behind_a_watch_once_it_ends() {
    let fake = ApiFake::start(vec![pod("a")]);
    fake.set_bookmark_interval(None);
    let mut c = connect(&fake);
    send(
        &mut c,
        "/api/v1/pods?watch=true&resourceVersion=1&timeoutSeconds=1",
    );
    send(&mut c, "/api/v1/pods");
    assert_eq!(head(&mut c).unwrap().0, 200);
    let rv = fake.apply(pod("b"));
    assert!(chunk(&mut c).unwrap().is_some());
    // The graceful end, then the list on the same connection, after the change.
    assert_eq!(chunk(&mut c), Ok(None));
    let (code, headers) = head(&mut c).unwrap();
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body(&mut c, &headers)).unwrap();
    assert_eq!(list["metadata"]["resourceVersion"], rv.to_string());
    // And an expired watch ends gracefully too, leaving the connection usable.
    fake.compact();
    send(&mut c, "/api/v1/pods?watch=true&resourceVersion=1");
    assert_eq!(head(&mut c).unwrap().0, 200);
    let error: Value = serde_json::from_str(&chunk(&mut c).unwrap().unwrap()).unwrap();
    assert_eq!(
        (error["type"].as_str(), error["object"]["code"].as_u64()),
        (Some("ERROR"), Some(410))
    );
    assert_eq!(chunk(&mut c), Ok(None));
    send(&mut c, "/version");
    assert_eq!(head(&mut c).unwrap().0, 200);
}

#[test]
fn a_request_while_down_closes_its_connection_unanswered() {
    let fake = ApiFake::start(vec![pod("a")]);
    let mut c = connect(&fake);
    send(&mut c, "/version");
    let (code, headers) = head(&mut c).unwrap();
    assert_eq!(code, 200);
    body(&mut c, &headers);
    fake.set_down(true);
    send(&mut c, "/api/v1/pods");
    assert!(head(&mut c).is_none());
    assert_eq!(fake.requests(), ["GET /version", "GET /api/v1/pods"]);
    // A new connection is closed at once.
    let mut c = connect(&fake);
    let _ = c
        .get_mut()
        .write_all(b"GET /version HTTP/1.1\r\nHost: fake\r\n\r\n");
    assert!(head(&mut c).is_none());
    fake.set_down(false);
    let mut c = connect(&fake);
    send(&mut c, "/version");
    assert_eq!(head(&mut c).unwrap().0, 200);
}

#[test]
fn a_client_that_hangs_up_ends_its_watch() {
    let fake = ApiFake::start(vec![pod("a")]);
    let mut c = connect(&fake);
    send(&mut c, "/api/v1/pods?watch=true&resourceVersion=1");
    assert_eq!(head(&mut c).unwrap().0, 200);
    assert_eq!(fake.open_watches(), 1);
    drop(c);
    eventually("the watch to end", || fake.open_watches() == 0);
}
