//! Names as kubectl users type them: every form, selectors, -A, and the suggestions a
//! name that resolves to nothing gets.

use netfence_analyzer::{resolve_target, NameScope, Target};
use netfence_model::{compile_text, DefaultedObject, Model, Source};

const INPUT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: web, tier: front}}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: staging, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db, replicas: "3"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template: {metadata: {labels: {app: api, app.kubernetes.io/name: api}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api-sts}}
  template: {metadata: {labels: {app: api-sts}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  jobTemplate:
    spec:
      template: {metadata: {labels: {app: report}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: pod}
spec:
  selector: {matchLabels: {app: agent}}
  template: {metadata: {labels: {app: agent}}}
---
apiVersion: v1
kind: Service
metadata: {name: checkout, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-server, namespace: default}
spec:
  selector: {matchLabels: {app: argocd-server}}
  template: {metadata: {labels: {app: argocd-server}}}
"#;

fn model() -> Model {
    compile_text("names.yaml", INPUT, "default").unwrap_or_else(|e| panic!("{e:?}"))
}

fn scope(ns: &str) -> NameScope {
    NameScope::in_namespace(ns)
}

/// The keys of the endpoints a name resolves to (a Service as `svc:ns/name`).
fn resolve(m: &Model, text: &str, scope: &NameScope) -> Result<Vec<String>, String> {
    match resolve_target(&m.cluster, text, scope) {
        Ok(Target::Endpoints { ids, .. }) => {
            let mut keys: Vec<String> = ids.iter().map(|e| m.cluster.endpoint_name(*e)).collect();
            keys.sort();
            Ok(keys)
        }
        Ok(Target::Service(s)) => Ok(vec![format!("svc:{}/{}", s.meta.namespace, s.meta.name)]),
        Ok(Target::External(net)) => Ok(vec![net.to_string()]),
        Err(e) => Err(e.to_string()),
    }
}

#[track_caller]
fn names(m: &Model, text: &str, scope: &NameScope, want: &[&str]) {
    assert_eq!(
        resolve(m, text, scope),
        Ok(want.iter().map(|s| s.to_string()).collect())
    );
}

#[track_caller]
fn fails(m: &Model, text: &str, scope: &NameScope, want: &str) {
    assert_eq!(resolve(m, text, scope), Err(want.to_string()), "{text}");
}

#[test]
fn every_name_form() {
    let m = model();
    let shop = scope("shop");
    // NAME, NS/NAME, KIND/NAME (in the scope's namespace), NS/KIND/NAME.
    names(&m, "frontend", &shop, &["shop/frontend"]);
    names(&m, "staging/frontend", &shop, &["staging/frontend"]);
    names(&m, "pod/frontend", &shop, &["shop/frontend"]);
    names(
        &m,
        "shop/po/frontend",
        &scope("default"),
        &["shop/frontend"],
    );
    names(&m, "deploy/api", &shop, &["shop/deploy/api"]);
    names(&m, "Deployments.apps/api", &shop, &["shop/deploy/api"]);
    names(&m, "deployment.v1.apps/api", &shop, &["shop/deploy/api"]);
    names(&m, "statefulset/api", &shop, &["shop/sts/api"]);
    names(
        &m,
        "shop/cronjobs.batch/report",
        &shop,
        &["shop/cronjob/report"],
    );
    names(&m, "cj/report", &shop, &["shop/cronjob/report"]);
    names(&m, "report", &shop, &["shop/cronjob/report"]);
    names(&m, "svc/checkout", &shop, &["svc:shop/checkout"]);
    names(&m, "shop/Services/checkout", &shop, &["svc:shop/checkout"]);
    names(&m, "10.0.0.0/8", &shop, &["10.0.0.0/8"]);
    // A namespace named like a kind: `pod/agent` is KIND/NAME; NS/KIND/NAME reaches it.
    fails(
        &m,
        "pod/agent",
        &shop,
        "no pod named shop/pod/agent; did you mean pod/ds/agent?",
    );
    names(&m, "pod/ds/agent", &shop, &["pod/ds/agent"]);
    fails(
        &m,
        "api",
        &shop,
        "api is ambiguous: it names shop/deploy/api, shop/sts/api; name one of them",
    );
}

#[test]
fn malformed_names_and_kinds() {
    let m = model();
    let shop = scope("shop");
    let e = resolve(&m, "shop/configmap/x", &shop).unwrap_err();
    assert!(
        e.starts_with("unknown kind \"configmap\" in shop/configmap/x"),
        "{e}"
    );
    let e = resolve(&m, "deployment.batch/api", &shop).unwrap_err();
    assert!(e.starts_with("unknown kind \"deployment.batch\""), "{e}");
    let e = resolve(&m, "a/b/c/d", &shop).unwrap_err();
    assert!(e.starts_with("cannot read \"a/b/c/d\""), "{e}");
    let e = resolve(&m, "shop//api", &shop).unwrap_err();
    assert!(e.starts_with("cannot read"), "{e}");
}

#[test]
fn selectors_name_every_matching_endpoint() {
    let m = model();
    let shop = scope("shop");
    names(&m, "app=web", &shop, &["shop/frontend"]);
    names(&m, "staging/app=web", &shop, &["staging/frontend"]);
    names(
        &m,
        "*/app=web",
        &shop,
        &["shop/frontend", "staging/frontend"],
    );
    names(&m, "app in (web,db)", &shop, &["shop/db", "shop/frontend"]);
    names(
        &m,
        "app!=web,!tier",
        &shop,
        &[
            "shop/cronjob/report",
            "shop/db",
            "shop/deploy/api",
            "shop/sts/api",
        ],
    );
    names(&m, "replicas>2", &shop, &["shop/db"]);
    // A key prefix with dots is not a namespace; a namespace before it is.
    names(
        &m,
        "app.kubernetes.io/name=api",
        &shop,
        &["shop/deploy/api"],
    );
    names(
        &m,
        "shop/app.kubernetes.io/name=api",
        &scope("default"),
        &["shop/deploy/api"],
    );
    fails(
        &m,
        "app=nothing",
        &shop,
        "no pod or workload in namespace shop matches the selector app=nothing",
    );
    fails(
        &m,
        "default/app=web",
        &shop,
        "no pod or workload in namespace default matches the selector app=web; 2 match in \
         other namespaces (*/app=web selects in every namespace)",
    );
    let e = resolve(&m, "app in ()", &shop).unwrap_err();
    assert!(e.starts_with("invalid label selector \"app in ()\""), "{e}");
}

#[test]
fn all_namespaces_looks_everywhere() {
    let m = model();
    let all = NameScope {
        all_namespaces: true,
        ..scope("default")
    };
    names(&m, "db", &all, &["shop/db"]);
    names(
        &m,
        "deploy/argocd-server",
        &all,
        &["default/deploy/argocd-server"],
    );
    names(&m, "app=web", &all, &["shop/frontend", "staging/frontend"]);
    fails(
        &m,
        "frontend",
        &all,
        "frontend is ambiguous: it names shop/frontend, staging/frontend; name one of them",
    );
    fails(
        &m,
        "nope",
        &all,
        "no pod or workload named nope in any namespace",
    );
}

#[test]
fn suggestions_for_names_not_found() {
    let m = model();
    // The same name in other namespaces.
    fails(
        &m,
        "frontend",
        &scope("default"),
        "no pod or workload named default/frontend; did you mean shop/frontend or \
         staging/frontend?",
    );
    // Close names in the namespace.
    fails(
        &m,
        "shop/fronted",
        &scope("default"),
        "no pod or workload named shop/fronted; did you mean shop/frontend?",
    );
    fails(
        &m,
        "shop/deploy/ap",
        &scope("default"),
        "no deployment named shop/deploy/ap; did you mean shop/deploy/api?",
    );
    // The Service of that name.
    fails(
        &m,
        "shop/checkout",
        &scope("default"),
        "no pod or workload named shop/checkout; did you mean shop/svc/checkout?",
    );
    // And the workload when a Service was asked for.
    fails(
        &m,
        "shop/svc/api",
        &scope("default"),
        "no service named shop/svc/api; did you mean shop/deploy/api or shop/sts/api?",
    );
    fails(
        &m,
        "shop/zzz",
        &scope("default"),
        "no pod or workload named shop/zzz",
    );
}

#[test]
fn suggestions_point_at_objects_placed_in_the_default_namespace() {
    let m = model();
    let placed = |name: &str| DefaultedObject {
        kind: "Deployment".into(),
        name: name.into(),
        source: Source::new("install.yaml", 1),
    };
    let defaulted = NameScope {
        defaulted: vec![placed("argocd-server"), placed("argocd-redis")],
        ..scope("default")
    };
    fails(
        &m,
        "argocd/argocd-server",
        &defaulted,
        "no pod or workload named argocd/argocd-server; 2 objects without a namespace were \
         placed in default (default/argocd-server exists): pass -n argocd",
    );
    fails(
        &m,
        "argocd/redis",
        &defaulted,
        "no pod or workload named argocd/redis; 2 objects without a namespace were placed in \
         default and namespace argocd holds nothing: pass -n argocd if they belong there",
    );
    // Without defaulted objects, the other namespace's is an ordinary suggestion.
    fails(
        &m,
        "argocd/argocd-server",
        &scope("default"),
        "no pod or workload named argocd/argocd-server; did you mean \
         default/deploy/argocd-server?",
    );
}
