//! Manifests are read as kubectl reads them (issue 9, point 5): what the API server would
//! receive, not what a YAML 1.2 reader sees.

use netfence_model::{parse_manifest, Object, ParsedManifest, Policy, PortSpec, Protocol};

fn parse(text: &str) -> ParsedManifest {
    parse_manifest("m.yaml", text, "default")
}

fn policies(m: &ParsedManifest) -> Vec<&Policy> {
    m.objects
        .iter()
        .filter_map(|o| match o {
            Object::Policy(p) => Some(p),
            _ => None,
        })
        .collect()
}

const HEAD: &str =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n";

#[test]
fn merge_keys_are_applied() {
    // A rule hidden in a merge key is a rule: kubectl sends `ingress: [{}]`.
    let m = parse(&format!(
        "{HEAD}spec:\n  podSelector: {{}}\n  <<: {{ingress: [{{}}]}}\n"
    ));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let p = policies(&m)[0];
    assert!(p.affects_ingress);
    assert_eq!(p.ingress_rules.len(), 1);
    assert!(p.ingress_rules[0].peers.is_empty() && p.ingress_rules[0].ports.is_empty());

    // Through an anchor, nested, and as a list (earlier mappings win).
    let text = format!(
        "{HEAD}spec:\n  podSelector: {{}}\n  ingress:\n  - <<: [{{ports: [{{port: 80}}]}}, {{ports: [{{port: 90}}]}}]\n  - &r {{ports: [{{port: 53, protocol: UDP}}]}}\n  egress:\n  - <<: *r\n"
    );
    let m = parse(&text);
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let p = policies(&m)[0];
    let range = |protocol, port| PortSpec::Range {
        protocol,
        start: port,
        end: port,
    };
    assert_eq!(p.ingress_rules[0].ports, vec![range(Protocol::Tcp, 80)]);
    assert_eq!(p.egress_rules[0].ports, vec![range(Protocol::Udp, 53)]);

    // go-yaml v2 applies entries in order: a merge overrides the keys before it, the
    // keys after it override the merge.
    let order = |spec: &str| {
        let m = parse(&format!("{HEAD}spec:\n{spec}"));
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        policies(&m)[0].ingress_rules.len()
    };
    assert_eq!(order("  ingress: []\n  <<: {ingress: [{}, {}]}\n"), 2);
    assert_eq!(order("  <<: {ingress: [{}, {}]}\n  ingress: [{}]\n"), 1);

    // A merge of a scalar is refused, as kubectl refuses it; a quoted "<<" is a key.
    let m = parse(&format!("{HEAD}spec:\n  <<: 3\n"));
    assert!(
        m.errors[0].message.contains("map merge requires map"),
        "{:?}",
        m.errors
    );
    assert_eq!(m.errors[0].location.line, 5);
    let m = parse(&format!("{HEAD}spec:\n  \"<<\": {{ingress: [{{}}]}}\n"));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert!(policies(&m)[0].ingress_rules.is_empty());
}

#[test]
fn yaml_1_1_scalars_reach_typed_fields_as_kubectl_sends_them() {
    let pod = |labels: &str| {
        parse(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {labels}\n"
        ))
    };
    // Quoted, `yes` is a string; unquoted it is the boolean true, which the API server
    // refuses as a label value.
    let m = pod("{a: \"yes\"}");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let Object::Pod(p) = &m.objects[0] else {
        panic!()
    };
    assert_eq!(p.meta.labels.get("a").map(String::as_str), Some("yes"));
    for bad in ["{a: yes}", "{a: n}", "{a: off}", "{a: 0x1F}"] {
        let m = pod(bad);
        assert_eq!(m.errors.len(), 1, "{bad}: {:?}", m.objects);
        assert!(m.objects.is_empty(), "{bad}");
    }
    // A boolean key becomes the string key "true", as sigs.k8s.io/yaml makes it.
    let m = pod("{on: b}");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let Object::Pod(p) = &m.objects[0] else {
        panic!()
    };
    assert_eq!(p.meta.labels.get("true").map(String::as_str), Some("b"));

    // Octal, hex, underscores and integral floats are numbers to the API server.
    let m = parse(&format!(
        "{HEAD}spec:\n  ingress:\n  - ports:\n    - port: 0120\n    - port: 0x50\n      endPort: 1_000\n    - port: 0o121\n    - port: 82.0\n"
    ));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let ports = &policies(&m)[0].ingress_rules[0].ports;
    let want: Vec<(u16, u16)> = vec![(80, 80), (80, 1000), (81, 81), (82, 82)];
    let got: Vec<(u16, u16)> = ports
        .iter()
        .map(|p| match p {
            PortSpec::Range { start, end, .. } => (*start, *end),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, want);
    // `.inf` cannot be sent as JSON: kubectl fails, and so does the reading.
    let m = parse(&format!(
        "{HEAD}spec:\n  ingress:\n  - ports:\n    - port: .inf\n"
    ));
    assert_eq!(m.errors.len(), 1);
    assert_eq!(m.errors[0].location.line, 7, "{}", m.errors[0]);
}

#[test]
fn document_markers_and_directives_as_kubectl_splits_them() {
    // Content on the `---` line is an error at that line, never dropped.
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n--- {apiVersion: v1, kind: Namespace, metadata: {name: c}}\n";
    let m = parse(text);
    assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
    assert_eq!(m.errors[0].location.line, 8);
    assert!(
        m.errors[0].message.contains("document separator"),
        "{}",
        m.errors[0]
    );
    // kubectl reads the first document only; the one the bad separator ends is lost.
    assert_eq!(m.objects.len(), 1);

    // A `%YAML` directive: kubectl cannot read the file.
    let m = parse("%YAML 1.1\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    assert_eq!(m.errors.len(), 1, "{:?}", m.objects);
    assert_eq!(m.errors[0].location.line, 1);
    assert!(m.errors[0].message.contains("directive"), "{}", m.errors[0]);

    // A UTF-8 BOM is not content.
    let m = parse("\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.objects.len(), 1);

    // `...` ends the document; go-yaml reads no further until the next `---`.
    let m = parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n...\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.objects.len(), 1);
}

#[test]
fn typed_list_items_get_the_list_kind() {
    // The shape of GET /api/v1/pods: items carry neither kind nor apiVersion.
    let text = r#"{"kind":"PodList","apiVersion":"v1","items":[
 {"metadata":{"name":"a","namespace":"x"}},
 {"metadata":{"name":"b","namespace":"x"}},
 {"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"}}]}"#;
    let m = parse(text);
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.objects.len(), 2);
    assert!(m.objects.iter().all(|o| matches!(o, Object::Pod(_))));
    assert_eq!(m.skipped.get("ConfigMap"), Some(&1));
    let m =
        parse(r#"{"kind":"NamespaceList","apiVersion":"v1","items":[{"metadata":{"name":"n"}}]}"#);
    assert!(
        matches!(m.objects.as_slice(), [Object::Namespace(_)]),
        "{m:?}"
    );
}

#[test]
fn other_api_groups_are_skipped_and_counted() {
    let text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  selector: all()\n  ingress: [{action: Allow}]\n---\napiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: q}\nspec: {podSelector: {}}\n";
    let m = parse(text);
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert!(m.objects.is_empty(), "{:?}", m.objects);
    assert_eq!(
        m.skipped.get("NetworkPolicy (projectcalico.org/v3)"),
        Some(&1)
    );
    assert_eq!(
        m.skipped.get("NetworkPolicy (extensions/v1beta1)"),
        Some(&1)
    );
}
