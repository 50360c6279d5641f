//! Reading a manifest's documents on several threads gives what one thread gives: the
//! same objects, errors and skipped kinds in the same order, and the reading stops at
//! the same malformed document.

use netfence_model::{parse_manifest, parse_manifest_on};

fn docs(n: usize, malformed_at: Option<usize>) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str("---\n");
        if Some(i) == malformed_at {
            text.push_str("kind: Pod\nmetadata: {name: [unclosed\n");
            continue;
        }
        match i % 4 {
            0 => text.push_str(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: ns{}}}\nstatus: {{podIP: 10.0.{}.{}}}\n",
                i % 7,
                i / 250,
                i % 250 + 1
            )),
            1 => text.push_str(&format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np{i}, namespace: ns1}}\nspec: {{podSelector: {{}}, ingress: [{{ports: [{{port: 70000}}]}}]}}\n"
            )),
            2 => text.push_str(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
            )),
            _ => text.push_str(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}, labels: {{team: t{}}}}}\n",
                i % 3
            )),
        }
    }
    text
}

fn same(text: &str) {
    let one = parse_manifest("m.yaml", text, "default");
    for threads in [2, 3, 8] {
        let many = parse_manifest_on("m.yaml", text, "default", threads);
        assert_eq!(many.objects, one.objects, "{threads} threads: objects");
        assert_eq!(many.errors, one.errors, "{threads} threads: errors");
        assert_eq!(many.skipped, one.skipped, "{threads} threads: skipped");
    }
}

#[test]
fn many_threads_read_as_one() {
    let text = docs(400, None);
    let one = parse_manifest("m.yaml", &text, "default");
    assert!(one.objects.len() > 100 && one.errors.len() >= 100 && !one.skipped.is_empty());
    same(&text);
}

#[test]
fn a_malformed_document_stops_the_reading_where_one_thread_stops() {
    let text = docs(400, Some(230));
    let one = parse_manifest("m.yaml", &text, "default");
    assert!(
        one.errors
            .last()
            .is_some_and(|e| e.message.contains("malformed YAML")),
        "{:?}",
        one.errors.last()
    );
    same(&text);
    same("");
    same("---\n");
}
