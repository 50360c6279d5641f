//! `drops`: which policies dropped what, from a node's controller (`/drops`).

use crate::args::{DropsArgs, DropsFormat};
use anyhow::{anyhow, bail, Context, Result};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;
use netfence_analyzer::drops::DropsDocument;
use std::process::ExitCode;
use std::time::Duration;

/// GET over HTTP/1.1 with hyper, the stack the controller serves `/drops` on (the
/// endpoint is on the node's network: plain http).
fn get(url: &str) -> Result<String> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("{url}: not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("{url}: only http:// URLs are supported");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
            .await
            .map_err(|_| anyhow!("{url}: no answer in 10 s"))?
            .map_err(|e| {
                let what = if e.is_connect() {
                    format!("connecting to {host}")
                } else {
                    format!("GET {url}")
                };
                // The source says why (connection refused, ...).
                let cause =
                    std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
                anyhow!("{what}: {e}{cause}")
            })?;
        let status = response.status();
        let body = tokio::time::timeout(
            Duration::from_secs(10),
            http_body_util::BodyExt::collect(response.into_body()),
        )
        .await
        .map_err(|_| anyhow!("{url}: the answer did not end in 10 s"))?
        .with_context(|| format!("reading {url}"))?
        .to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != hyper::StatusCode::OK {
            // The controller says why (e.g. 403: /drops is answered to loopback peers only).
            bail!("{url}: HTTP {}: {}", status.as_u16(), body.trim());
        }
        Ok(body)
    })
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
