//! `cargo bench -p netfence-model --bench parse`: manifest reading on inputs that used to
//! cost quadratic time (issue 9, point 8): a `kind: List` of N pods as YAML and as
//! `kubectl get -o json` prints it, the same pods as separate documents, and 100,000-deep
//! nesting. Prints the fastest of three runs of each. Options: `--items N` (20,000).
//! Asserts nothing about time (model/tests/linear_input.rs checks the growth).

use netfence_model::parse_manifest;
use std::time::{Duration, Instant};

fn pod_yaml(i: usize, indent: &str) -> String {
    format!(
        "{indent}apiVersion: v1\n{indent}kind: Pod\n{indent}metadata:\n{indent}  name: p{i}\n{indent}  namespace: ns{}\n{indent}  labels: {{app: a{}}}\n{indent}status: {{podIP: 10.{}.{}.{}}}\n",
        i % 50,
        i % 20,
        i / 65536,
        (i / 256) % 256,
        i % 256
    )
}

fn yaml_list(n: usize) -> String {
    let mut s = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        let item = pod_yaml(i, "  ");
        s.push_str("- ");
        s.push_str(&item[2..]);
    }
    s
}

fn json_list(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "        {{\n            \"apiVersion\": \"v1\",\n            \"kind\": \"Pod\",\n            \"metadata\": {{\n                \"labels\": {{\n                    \"app\": \"a{}\"\n                }},\n                \"name\": \"p{i}\",\n                \"namespace\": \"ns{}\"\n            }},\n            \"status\": {{\n                \"podIP\": \"10.{}.{}.{}\"\n            }}\n        }}",
                i % 20,
                i % 50,
                i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect();
    format!(
        "{{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n{}\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {{\n        \"resourceVersion\": \"\"\n    }}\n}}\n",
        items.join(",\n")
    )
}

fn documents(n: usize) -> String {
    (0..n)
        .map(|i| pod_yaml(i, ""))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn best(text: &str) -> (Duration, usize) {
    let mut out = (Duration::MAX, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let m = parse_manifest("bench.yaml", text, "default");
        out = (out.0.min(t.elapsed()), m.objects.len() + m.errors.len());
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let items = args
        .iter()
        .position(|a| a == "--items")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(20_000);
    let cases = [
        (format!("List of {items} pods, YAML"), yaml_list(items)),
        (
            format!("List of {items} pods, kubectl get -o json"),
            json_list(items),
        ),
        (
            format!("{items} pods as separate documents"),
            documents(items),
        ),
        ("100,000-deep flow nesting".to_string(), "[".repeat(100_000)),
        (
            "100,000-deep block nesting".to_string(),
            "{a: ".repeat(100_000),
        ),
    ];
    // The YAML reading alone, without decoding objects.
    let list = yaml_list(items);
    let t = Instant::now();
    let doc = netfence_model::yaml11::parse_document(&list, 1).map(|d| d.item_lines.len());
    println!(
        "{:<45} {:>9.3} s  ({doc:?} items)",
        "  of which YAML to value (List, YAML)",
        t.elapsed().as_secs_f64()
    );
    for (name, text) in cases {
        let (d, n) = best(&text);
        println!(
            "{name:<45} {:>9.3} s  ({} KiB, {n} objects/errors)",
            d.as_secs_f64(),
            text.len() / 1024
        );
    }
}
