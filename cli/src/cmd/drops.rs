//! `drops`: which policies dropped what, from a node's controller (`/drops`).

use crate::args::{DropsArgs, DropsFormat};
use anyhow::{anyhow, bail, Context, Result};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;
use netfence_analyzer::drops::DropsDocument;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

/// GET over plain HTTP/1.1 (the controller's endpoint is on the node's network).
fn get(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// URLs are supported"))?;
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/drops".to_string()),
    };
    let path = if path == "/" {
        "/drops".to_string()
    } else {
        path
    };
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{url}: not an HTTP response"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        // The controller says why (e.g. 403: /drops is answered to loopback peers only).
        bail!("{url}: HTTP {status}: {}", body.trim());
    }
    Ok(body.to_string())
}

pub fn run(args: DropsArgs) -> Result<ExitCode> {
    let url = if args.url.contains("/drops") {
        args.url.clone()
    } else {
        format!("{}/drops", args.url.trim_end_matches('/'))
    };
    let body = get(&url)?;
    let doc: DropsDocument =
        serde_json::from_str(&body).with_context(|| format!("{url}: not a /drops document"))?;
    match args.output {
        DropsFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        DropsFormat::Text => {
            let mut counters = Table::new();
            counters.load_preset(UTF8_FULL_CONDENSED);
            counters.set_header(vec!["policy", "direction", "packets dropped"]);
            for d in &doc.policy_drops {
                counters.add_row(vec![
                    d.policy.clone(),
                    d.direction.clone(),
                    d.packets.to_string(),
                ]);
            }
            println!("{counters}");
            if doc.recent.is_empty() {
                println!("no recent drops reported");
            } else {
                println!("recent drops (newest last):");
                for d in &doc.recent {
                    println!("  {}", d.message);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
