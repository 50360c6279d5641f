//! Input that used to cost quadratic time or more (issue 9, point 8) is read in time
//! linear in its size. The figures are in `benches/parse.rs`; these tests compare sizes
//! with a generous bound instead of timing absolutely.

use netfence_model::{parse_manifest, Object};
use std::time::{Duration, Instant};

fn yaml_list(n: usize) -> String {
    let mut s = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        s.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n    namespace: ns\n    labels: {{app: a{i}}}\n  status: {{podIP: 10.0.{}.{}}}\n",
            i / 250,
            i % 250
        ));
    }
    s
}

fn json_list(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "    {{\n      \"apiVersion\": \"v1\",\n      \"kind\": \"Pod\",\n      \"metadata\": {{\n        \"name\": \"p{i}\",\n        \"namespace\": \"ns\"\n      }}\n    }}"
            )
        })
        .collect();
    format!(
        "{{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n{}\n  ]\n}}\n",
        items.join(",\n")
    )
}

/// The fastest of three runs.
fn time(text: &str, objects: usize) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let m = parse_manifest("l.yaml", text, "default");
            let d = t.elapsed();
            assert!(m.errors.is_empty(), "{:?}", &m.errors[..1]);
            assert_eq!(m.objects.len(), objects);
            d
        })
        .min()
        .unwrap()
}

/// Four times the items must cost well under the sixteen times a quadratic reader pays.
fn assert_linear(make: fn(usize) -> String) {
    let small = time(&make(1_000), 1_000);
    let large = time(&make(4_000), 4_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 8.0,
        "1k items {small:?}, 4k items {large:?}: ratio {ratio:.1}"
    );
}

#[test]
fn yaml_lists_cost_linear_time() {
    assert_linear(yaml_list);
}

#[test]
fn json_lists_cost_linear_time() {
    assert_linear(json_list);
}

/// Every item invalid: each error is placed at its own line, and placing them all costs
/// linear time too (the document's node lines are found once, not once per error).
#[test]
fn placing_errors_costs_linear_time() {
    fn bad_list(n: usize) -> String {
        yaml_list(n).replace(
            "  status: {podIP: ",
            "  status: {podIPs: [{ip: 10.0.0.300}], podIP: ",
        )
    }
    fn time_errors(n: usize) -> Duration {
        let text = bad_list(n);
        (0..3)
            .map(|_| {
                let t = Instant::now();
                let m = parse_manifest("l.yaml", &text, "default");
                let d = t.elapsed();
                assert_eq!(m.errors.len(), n);
                assert!(m.objects.is_empty());
                let lines: Vec<usize> = m.errors.iter().map(|e| e.location.line).collect();
                let expected: Vec<usize> = (0..n).map(|i| 10 + 7 * i).collect();
                assert_eq!(lines, expected);
                d
            })
            .min()
            .unwrap()
    }
    let small = time_errors(1_000);
    let large = time_errors(4_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 8.0,
        "1k errors {small:?}, 4k errors {large:?}: ratio {ratio:.1}"
    );
}

#[test]
fn list_items_keep_their_lines() {
    let m = parse_manifest("l.yaml", &yaml_list(3), "default");
    let lines: Vec<usize> = m
        .objects
        .iter()
        .map(|o| match o {
            Object::Pod(p) => p.meta.source.line,
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(lines, vec![4, 11, 18]);
    // An invalid item's error points into that item, not an earlier one of the same name.
    let text = "kind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}\n- kind: Pod\n  metadata: {name: b}\n  spec: {containers: [{name: c, ports: [{containerPort: 99999}]}]}\n";
    let m = parse_manifest("l.yaml", text, "default");
    assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
    assert!(m.errors[0].location.line >= 6, "{}", m.errors[0]);
}

#[test]
fn deep_nesting_is_refused_before_it_is_built() {
    for text in ["[".repeat(100_000), "{a: ".repeat(100_000)] {
        let t = Instant::now();
        let m = parse_manifest("deep.yaml", &text, "default");
        assert_eq!(m.errors.len(), 1);
        let msg = &m.errors[0].message;
        assert!(
            msg.contains("nesting deeper") || msg.contains("recursion limit"),
            "{msg}"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let m = parse_manifest("bomb.yaml", &text, "default");
    assert_eq!(m.errors.len(), 1);
    assert!(
        m.errors[0].message.contains("excessive aliasing"),
        "{}",
        m.errors[0]
    );
}
