//! A name that would stand for two contents is a hard error of the renderer, within one
//! render (chains, sets) and across renders that share a set cache. Names are made to
//! collide by handing the renderer a registry with a name function of our own.

use netfence_model::{compile_text, Model};
use netfence_nft::names::{name, Names};
use netfence_nft::{render_with_names, NameCollision, NodeView, RenderOptions, SetCache};

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns, labels: {app: a}}
status: {podIPs: [{ip: 10.1.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: ns, labels: {app: b}}
status: {podIPs: [{ip: 10.1.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: x, namespace: ns, labels: {app: x}}
status: {podIPs: [{ip: 10.1.0.3}]}
---
apiVersion: v1
kind: Pod
metadata: {name: w, namespace: ns, labels: {app: w}}
status: {podIPs: [{ip: 10.1.0.4}]}
---
apiVersion: v1
kind: Pod
metadata: {name: z, namespace: ns, labels: {app: z}}
status: {podIPs: [{ip: 10.1.0.5}]}
"#;

/// A policy on `app: on` letting in `app: from`.
fn policy(name: &str, on: &str, from: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: ns}}\n\
         spec: {{podSelector: {{matchLabels: {{app: {on}}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: {from}}}}}}}]}}]}}\n"
    )
}

fn model(policies: &[String]) -> Model {
    compile_text("t.yaml", &format!("{PODS}{}", policies.concat()), "default").unwrap()
}

fn render(m: &Model, cache: &mut SetCache, names: Names) -> Result<usize, NameCollision> {
    render_with_names(
        m,
        &NodeView::default(),
        &RenderOptions::default(),
        cache,
        names,
    )
    .map(|rs| rs.chains.len())
}

/// Every derived name of `prefix` is one name; the rest as usual.
fn collapse(prefix: &'static str) -> Names {
    match prefix {
        "in" => Names::with_fn(|p, parts| {
            if p == "in" {
                "in_same".into()
            } else {
                name(p, parts)
            }
        }),
        "pv4" => Names::with_fn(|p, parts| {
            if p == "pv4" {
                "pv4_same".into()
            } else {
                name(p, parts)
            }
        }),
        other => panic!("no collapse for {other}"),
    }
}

#[test]
fn two_chains_under_one_name_are_an_error() {
    let m = model(&[policy("pa", "a", "x"), policy("pb", "b", "x")]);
    // Sanity: with real names both chains render (3 base chains, and a union chain
    // and a policy chain per policy).
    assert_eq!(
        render(&m, &mut SetCache::default(), Names::default()),
        Ok(7)
    );
    let err = render(&m, &mut SetCache::default(), collapse("in")).unwrap_err();
    assert_eq!(err.name, "in_same");
    assert!(
        err.first.contains("ns/pa") && err.second.contains("ns/pb"),
        "{err}"
    );
}

#[test]
fn two_sets_under_one_name_are_an_error() {
    let m = model(&[policy("pa", "a", "x"), policy("pb", "b", "w")]);
    assert!(render(&m, &mut SetCache::default(), Names::default()).is_ok());
    let err = render(&m, &mut SetCache::default(), collapse("pv4")).unwrap_err();
    assert_eq!(err.name, "pv4_same");
    assert!(
        err.first.contains("app=x") && err.second.contains("app=w"),
        "{err}"
    );
}

#[test]
fn a_cached_set_is_not_reused_for_other_content() {
    // Each render alone has one peer set; the cache still holds the first one's.
    let mut cache = SetCache::default();
    let first = model(&[policy("pa", "a", "x")]);
    assert!(render(&first, &mut cache, collapse("pv4")).is_ok());
    let second = model(&[policy("pa", "a", "w")]);
    let err = render(&second, &mut cache, collapse("pv4")).unwrap_err();
    assert_eq!(err.name, "pv4_same");
    // With real names the second render simply builds its own set.
    let mut cache = SetCache::default();
    render(&first, &mut cache, Names::default()).unwrap();
    render(&second, &mut cache, Names::default()).unwrap();
}
