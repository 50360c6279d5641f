//! Type errors and API-server name/label rules: every invalid object is reported at its
//! field, on the line of that field, and nothing the API server accepts is refused.

use netfence_model::parse_manifest;

/// The single error of `text`, as printed.
fn error(text: &str) -> String {
    let m = parse_manifest("f.yaml", text, "default");
    assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
    assert!(m.objects.is_empty(), "{:?}", m.objects);
    m.errors[0].to_string()
}

fn accepted(text: &str) {
    let m = parse_manifest("f.yaml", text, "default");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.objects.len(), 1);
}

const POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: shop\nspec:\n  podSelector: {}\n";

#[test]
fn int_or_string_type_errors_name_field_line_and_value() {
    let text = format!("{POLICY}  ingress:\n  - ports:\n    - port: 80\n    - port: 80.5\n");
    assert_eq!(
        error(&text),
        "f.yaml:11: NetworkPolicy shop/p: spec.ingress[0].ports[1].port: \
         expected an integer or a port name, found 80.5"
    );
    let text = format!("{POLICY}  egress:\n  - ports:\n    - port: true\n");
    assert_eq!(
        error(&text),
        "f.yaml:10: NetworkPolicy shop/p: spec.egress[0].ports[0].port: \
         expected an integer or a port name, found true"
    );
    let svc = "kind: Service\napiVersion: v1\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 80\n    targetPort: {a: 1}\n";
    let e = error(svc);
    assert!(
        e.starts_with("f.yaml:7: Service default/s: spec.ports[0].targetPort: expected an integer or a port name, found a mapping"),
        "{e}"
    );
}

#[test]
fn integer_fields_name_field_line_and_value() {
    let text = format!("{POLICY}  ingress:\n  - ports:\n    - port: 80\n      endPort: 90.5\n");
    assert_eq!(
        error(&text),
        "f.yaml:11: NetworkPolicy shop/p: spec.ingress[0].ports[0].endPort: \
         expected an integer, found 90.5"
    );
    let pod = "kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 80\n    - containerPort: web\n";
    assert_eq!(
        error(pod),
        "f.yaml:9: Pod default/a: spec.containers[0].ports[1].containerPort: \
         expected an integer, found \"web\""
    );
}

#[test]
fn other_type_errors_keep_their_path_and_line() {
    let pod = "kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec:\n  nodeName: node1\n  hostNetwork: sometimes\n";
    let e = error(pod);
    assert!(
        e.starts_with(
            "f.yaml:6: Pod default/a: spec.hostNetwork: invalid type: string \"sometimes\""
        ),
        "{e}"
    );
    assert!(!e.contains("untagged"), "{e}");
    // The header (kind, name) is read even when a label is of the wrong type.
    let ns = "kind: Namespace\napiVersion: v1\nmetadata:\n  name: a\n  labels:\n    env: prod\n    debug: 3\n";
    assert_eq!(
        error(ns),
        "f.yaml:7: Namespace a: metadata.labels.debug: invalid type: integer `3`, expected a string"
    );
    let deploy = "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        ports: 8080\n";
    let e = error(deploy);
    assert!(
        e.starts_with("f.yaml:9: Deployment default/d: spec.template.spec.containers[0].ports:"),
        "{e}"
    );
}

#[test]
fn object_names_follow_their_kind() {
    // A NUL byte in a policy name once reached the kernel.
    let e = error("kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata:\n  namespace: x\n  name: \"a\\0b\"\n");
    assert!(e.starts_with("f.yaml:5: NetworkPolicy x/"), "{e}");
    assert!(
        e.contains("metadata.name: \"a\\0b\": a lowercase RFC 1123 subdomain"),
        "{e}"
    );
    for kind in ["Pod", "Deployment"] {
        let api = if kind == "Pod" { "v1" } else { "apps/v1" };
        let e = error(&format!(
            "kind: {kind}\napiVersion: {api}\nmetadata:\n  name: Web\n"
        ));
        assert!(e.contains("metadata.name: \"Web\""), "{e}");
        let long = "a".repeat(254);
        let e = error(&format!(
            "kind: {kind}\napiVersion: {api}\nmetadata:\n  name: {long}\n"
        ));
        assert!(e.contains("must be no more than 253 characters"), "{e}");
        // Dots are fine in subdomain names.
        accepted(&format!(
            "kind: {kind}\napiVersion: {api}\nmetadata:\n  name: web.v1-2\n"
        ));
    }
    // Namespaces are DNS labels: no dots, at most 63.
    let e = error("kind: Namespace\napiVersion: v1\nmetadata:\n  name: a.b\n");
    assert!(
        e.starts_with(
            "f.yaml:4: Namespace a.b: metadata.name: \"a.b\": a lowercase RFC 1123 label"
        ),
        "{e}"
    );
    let e = error("kind: Pod\napiVersion: v1\nmetadata:\n  name: a\n  namespace: Prod\n");
    assert!(
        e.starts_with("f.yaml:5: Pod Prod/a: metadata.namespace: \"Prod\""),
        "{e}"
    );
    // Services are DNS-1035 labels: a leading digit is refused.
    let e = error("kind: Service\napiVersion: v1\nmetadata:\n  name: 1web\n");
    assert!(
        e.contains("metadata.name: \"1web\": a DNS-1035 label"),
        "{e}"
    );
    accepted("kind: Service\napiVersion: v1\nmetadata:\n  name: web-1\n");
}

#[test]
fn labels_and_annotations_follow_the_api_server() {
    let meta = |extra: &str| format!("kind: Pod\napiVersion: v1\nmetadata:\n  name: a\n{extra}");
    accepted(&meta(
        "  labels:\n    app.kubernetes.io/name: Web_1.x\n    empty: \"\"\n  annotations:\n    Example.COM/Owner: anything at all\n",
    ));
    let e = error(&meta("  labels:\n    app: ok\n    bad/key/x: v\n"));
    assert!(
        e.starts_with("f.yaml:7: Pod default/a: metadata.labels: invalid label key \"bad/key/x\""),
        "{e}"
    );
    let e = error(&meta("  labels:\n    app: -web\n"));
    assert!(
        e.starts_with(
            "f.yaml:6: Pod default/a: metadata.labels: label \"app\": invalid value \"-web\""
        ),
        "{e}"
    );
    let e = error(&meta(&format!("  labels:\n    app: {}\n", "v".repeat(64))));
    assert!(e.contains("must be no more than 63 characters"), "{e}");
    let e = error(&meta("  labels:\n    Bad_Prefix/app: v\n"));
    assert!(e.contains("prefix part"), "{e}");
    let e = error(&meta("  annotations:\n    /x: v\n"));
    assert!(
        e.contains(
            "metadata.annotations: invalid annotation key \"/x\": prefix part must be non-empty"
        ),
        "{e}"
    );
    // Template labels of workloads are checked too.
    let d = "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n      labels:\n        app: \"a b\"\n";
    let e = error(d);
    assert!(
        e.starts_with("f.yaml:8: Deployment default/d: spec.template.metadata.labels:"),
        "{e}"
    );
}

#[test]
fn selectors_follow_the_api_server() {
    let e = error(&format!(
        "{POLICY}  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          role: \"x y\"\n"
    ));
    assert!(
        e.starts_with("f.yaml:12: NetworkPolicy shop/p: spec.ingress[0].from[0].podSelector.matchLabels: label \"role\": invalid value"),
        "{e}"
    );
    let e = error(&format!(
        "{POLICY}  egress:\n  - to:\n    - namespaceSelector:\n        matchExpressions:\n        - key: -team\n          operator: Exists\n"
    ));
    assert!(
        e.starts_with("f.yaml:12: NetworkPolicy shop/p: spec.egress[0].to[0].namespaceSelector.matchExpressions[0].key: \"-team\""),
        "{e}"
    );
    let e = error(&format!(
        "{POLICY}  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - key: tier\n          operator: In\n          values: [web, \"-db\"]\n"
    ));
    assert!(
        e.contains("spec.ingress[0].from[0].podSelector.matchExpressions[0].values[1]: \"-db\""),
        "{e}"
    );
    // The operator rules were already enforced; they still are.
    let e = error(&format!(
        "{POLICY}  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n        - {{key: tier, operator: In, values: []}}\n"
    ));
    assert!(e.contains("requires at least one value"), "{e}");
    let svc =
        "kind: Service\napiVersion: v1\nmetadata: {name: s}\nspec:\n  selector:\n    app: \"-x\"\n";
    assert!(error(svc).contains("spec.selector: label \"app\""));
}

#[test]
fn service_port_names_are_dns_labels_and_required_when_several() {
    let svc = |ports: &str| {
        format!("kind: Service\napiVersion: v1\nmetadata: {{name: s}}\nspec:\n  ports:\n{ports}")
    };
    accepted(&svc("  - port: 80\n"));
    accepted(&svc(
        "  - {name: http, port: 80}\n  - {name: metrics-endpoint-long, port: 9090}\n",
    ));
    let e = error(&svc(
        "  - {name: http, port: 80}\n  - {name: Metrics, port: 9090}\n",
    ));
    assert!(
        e.starts_with("f.yaml:7: Service default/s: spec.ports[1].name: \"Metrics\""),
        "{e}"
    );
    let e = error(&svc("  - {name: http, port: 80}\n  - port: 9090\n"));
    assert!(
        e.contains("spec.ports[1].name: is required when a Service has more than one port"),
        "{e}"
    );
    // Container port names stay IANA service names (at most 15, a letter).
    let pod = "kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    ports:\n    - {containerPort: 80, name: metrics-endpoint-long}\n";
    assert!(error(pod).contains("spec.containers[0].ports[0].name"));
}

#[test]
fn errors_in_later_entries_point_at_their_own_lines() {
    // The same text earlier in the object (a valid first rule) is not where the error is:
    // the line is looked for inside the field the error's path names.
    let text = format!(
        "{POLICY}  egress:\n  - to:\n    - ipBlock: {{cidr: 8.0.0.0/6, except: [10.0.0.0/7]}}\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/8\n        except: [10.0.0.0/7]\n"
    );
    assert_eq!(
        error(&text),
        "f.yaml:14: NetworkPolicy shop/p: spec.egress[1].to[0].ipBlock: \
         except \"10.0.0.0/7\" must be a strict subset of cidr \"10.0.0.0/8\""
    );
    // An entry with no text of its own to find is placed at its own line.
    let text = format!(
        "{POLICY}  ingress:\n  - from:\n    - podSelector: {{}}\n  - from:\n    - podSelector: {{}}\n    - {{}}\n"
    );
    assert_eq!(
        error(&text),
        "f.yaml:13: NetworkPolicy shop/p: spec.ingress[1].from[1]: \
         a peer must set podSelector, namespaceSelector or ipBlock"
    );
    // A missing field is placed at the entry that lacks it.
    let svc = "kind: Service\napiVersion: v1\nmetadata: {name: s}\nspec:\n  ports:\n  - name: a\n    port: 80\n  - name: b\n    targetPort: 80\n";
    assert_eq!(
        error(svc),
        "f.yaml:8: Service default/s: spec.ports[1].port: is required"
    );
    // In a List, the path is the item's.
    let list = "apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  apiVersion: v1\n  metadata: {name: s}\n  spec:\n    ports:\n    - {name: a, port: 80}\n    - {name: b, port: 80, protocol: ICMP}\n";
    assert_eq!(
        error(list),
        "f.yaml:10: Service default/s: spec.ports[1].protocol: \
         unsupported protocol \"ICMP\": must be one of TCP, UDP, SCTP"
    );
}
