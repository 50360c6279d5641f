//! The names users give the ends of a flow, read as kubectl reads names: `NAME`,
//! `KIND/NAME`, `NS/NAME`, `NS/KIND/NAME` (kinds in every kubectl spelling), label
//! selectors (`app=web`, `NS/app=web`, `*/app=web`), an IP or a CIDR. The one place
//! names are resolved; a name that resolves to nothing comes with suggestions.

mod kind;
mod selector;
mod suggest;

pub use kind::{parse_kind, NameKind};
pub use selector::{looks_like_selector, parse_selector, LabelQuery};

use ipnet::IpNet;
use netfence_model::cluster::EndpointKind;
use netfence_model::objects::Service;
use netfence_model::{Cluster, DefaultedObject, EndpointId, Party};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// What a user named on the command line.
#[derive(Clone, Debug)]
pub enum Target<'c> {
    /// Pods or templates (one for a pod, all of a workload's for a workload, every match
    /// of a selector).
    Endpoints {
        name: String,
        ids: Vec<EndpointId>,
    },
    Service(&'c Service),
    External(IpNet),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// `hints` is empty or starts with "; " (did you mean, where defaulted objects went).
    #[error("no {what} named {name}{hints}")]
    NotFound {
        what: String,
        name: String,
        hints: String,
    },
    #[error("{name} is ambiguous: it names {candidates}; name one of them")]
    Ambiguous { name: String, candidates: String },
    #[error(
        "unknown kind {kind:?} in {name}: use pod, deploy, sts, ds, rs, rc, job, cj or svc \
         (or their full names, singular or plural, optionally with their group), or the kind \
         of a custom resource that has a stand-in"
    )]
    UnknownKind { name: String, kind: String },
    #[error("cannot read {0:?}: use NAME, KIND/NAME, NS/NAME, NS/KIND/NAME, a label selector, an IP or a CIDR")]
    BadName(String),
    #[error("invalid label selector {selector:?}: {message}")]
    BadSelector { selector: String, message: String },
    #[error("no pod or workload {place} matches the selector {selector}{hints}")]
    NoMatch {
        selector: String,
        place: String,
        hints: String,
    },
    #[error("{0} has no pods in the input")]
    Empty(String),
}

/// Where names without a namespace are looked up.
#[derive(Clone, Debug, Default)]
pub struct NameScope {
    /// The namespace of names given without one (`-n`, else the kubeconfig context's,
    /// else `default`).
    pub namespace: String,
    /// Names without a namespace are looked up in every namespace (`-A`).
    pub all_namespaces: bool,
    /// The objects written without a namespace that were placed in `namespace` because
    /// no namespace was chosen (empty when one was): a name not found elsewhere points
    /// at them.
    pub defaulted: Vec<DefaultedObject>,
}

impl NameScope {
    pub fn in_namespace(namespace: &str) -> NameScope {
        NameScope {
            namespace: namespace.to_string(),
            ..NameScope::default()
        }
    }

    /// The namespace a name without one is looked up in; None: every namespace.
    fn implied(&self) -> Option<String> {
        (!self.all_namespaces).then(|| self.namespace.clone())
    }
}

/// A name as written: its namespace (None: every namespace), kind and name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NameRef {
    ns: Option<String>,
    kind: Option<NameKind>,
    name: String,
}

impl NameRef {
    fn what(&self) -> String {
        match self.kind {
            None => "pod or workload".into(),
            Some(k) => k.noun(),
        }
    }

    fn shown(&self) -> String {
        let kind = self
            .kind
            .map(|k| format!("{}/", k.short()))
            .unwrap_or_default();
        match &self.ns {
            Some(ns) => format!("{ns}/{kind}{}", self.name),
            None => format!("{kind}{} in any namespace", self.name),
        }
    }
}

/// `a/b` is `KIND/NAME` when `a` is a kind, else `NS/NAME`; a namespace spelt like a
/// kind is reached as `NS/KIND/NAME`.
fn parse_name(text: &str, scope: &NameScope) -> Result<NameRef, TargetError> {
    let parts: Vec<&str> = text.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(TargetError::BadName(text.to_string()));
    }
    let unknown = |kind: &str| TargetError::UnknownKind {
        name: text.to_string(),
        kind: kind.to_string(),
    };
    let (ns, kind, name) = match parts.as_slice() {
        [name] => (scope.implied(), None, *name),
        [first, name] => match parse_kind(first) {
            Some(k) => (scope.implied(), Some(k), *name),
            // Namespaces have no dots: `deployment.batch/x` is a kind with a wrong group.
            None if first.contains('.') => return Err(unknown(first)),
            None => (Some(first.to_string()), None, *name),
        },
        [ns, kind, name] => (
            Some(ns.to_string()),
            Some(parse_kind(kind).ok_or_else(|| unknown(kind))?),
            *name,
        ),
        _ => return Err(TargetError::BadName(text.to_string())),
    };
    Ok(NameRef {
        ns,
        kind,
        name: name.to_string(),
    })
}

/// A named object of the input.
#[derive(Clone, Copy, Debug)]
enum Found<'c> {
    Pod(EndpointId),
    /// Index into `Cluster::workloads`.
    Workload(usize),
    Service(&'c Service),
}

impl Found<'_> {
    fn kind(&self, cluster: &Cluster) -> NameKind {
        match self {
            Found::Pod(_) => NameKind::Pod,
            Found::Workload(w) => NameKind::Workload(cluster.workloads[*w].kind),
            Found::Service(_) => NameKind::Service,
        }
    }

    /// The key this crate prints: `ns/name` (pod), `ns/deploy/name`, `ns/svc/name`.
    fn key(&self, cluster: &Cluster) -> String {
        match self {
            Found::Pod(e) => cluster.endpoint_name(*e),
            Found::Workload(w) => cluster.workload_key(*w),
            Found::Service(s) => format!("{}/svc/{}", s.meta.namespace, s.meta.name),
        }
    }
}

/// Every pod, workload and Service of the input, with its namespace and name.
fn named(cluster: &Cluster) -> impl Iterator<Item = (&str, &str, Found<'_>)> {
    let pods = cluster
        .endpoints
        .iter()
        .filter(|e| e.kind == EndpointKind::Pod)
        .map(|e| {
            let ns = cluster.namespace(e.namespace).name.as_str();
            (ns, e.name.as_str(), Found::Pod(e.id))
        });
    let workloads = cluster.workloads.iter().enumerate().map(|(i, w)| {
        (
            w.meta.namespace.as_str(),
            w.meta.name.as_str(),
            Found::Workload(i),
        )
    });
    let services = cluster.services.iter().map(|s| {
        (
            s.meta.namespace.as_str(),
            s.meta.name.as_str(),
            Found::Service(s),
        )
    });
    pods.chain(workloads).chain(services)
}

/// Whether an object of kind `found` answers a name asking for `wanted` (None: a pod
/// or a workload).
fn kind_answers(wanted: Option<NameKind>, found: NameKind) -> bool {
    match wanted {
        None => found != NameKind::Service,
        Some(k) => k == found,
    }
}

/// The objects a name names. Without a kind, a pod is preferred to a workload of the
/// same name in its namespace (the pod is what traffic comes from).
fn lookup<'c>(cluster: &'c Cluster, r: &NameRef) -> Vec<Found<'c>> {
    let mut found: Vec<(&str, Found<'c>)> = named(cluster)
        .filter(|(ns, name, f)| {
            *name == r.name
                && r.ns.as_deref().is_none_or(|want| want == *ns)
                && kind_answers(r.kind, f.kind(cluster))
        })
        .map(|(ns, _, f)| (ns, f))
        .collect();
    if r.kind.is_none() {
        let with_pod: BTreeSet<&str> = found
            .iter()
            .filter(|(_, f)| matches!(f, Found::Pod(_)))
            .map(|(ns, _)| *ns)
            .collect();
        found.retain(|(ns, f)| matches!(f, Found::Pod(_)) || !with_pod.contains(ns));
    }
    found.into_iter().map(|(_, f)| f).collect()
}

fn target<'c>(cluster: &'c Cluster, found: Found<'c>) -> Result<Target<'c>, TargetError> {
    let name = found.key(cluster);
    match found {
        Found::Pod(id) => Ok(Target::Endpoints {
            name,
            ids: vec![id],
        }),
        Found::Workload(w) => {
            let ids = cluster.workload_endpoints(w);
            if ids.is_empty() {
                return Err(TargetError::Empty(name));
            }
            Ok(Target::Endpoints { name, ids })
        }
        Found::Service(s) => Ok(Target::Service(s)),
    }
}

/// Resolves what a user typed for an end of a flow (see the module's documentation).
/// An IP that belongs to a known pod is that pod.
pub fn resolve_target<'c>(
    cluster: &'c Cluster,
    text: &str,
    scope: &NameScope,
) -> Result<Target<'c>, TargetError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(match Party::of_addr(cluster, ip) {
            Party::Endpoint(e) => Target::Endpoints {
                name: cluster.endpoint_name(e),
                ids: vec![e],
            },
            Party::External(net) => Target::External(net),
        });
    }
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(Target::External(net.trunc()));
    }
    if looks_like_selector(text) {
        return resolve_selector(cluster, text, scope);
    }
    if let Some(t) = stand_in(cluster, text, scope) {
        return Ok(t);
    }
    let r = parse_name(text, scope)?;
    let found = lookup(cluster, &r);
    match found.as_slice() {
        [one] => target(cluster, *one),
        [] => Err(TargetError::NotFound {
            what: r.what(),
            name: r.shown(),
            hints: suggest::hints(cluster, &r, scope),
        }),
        many => Err(TargetError::Ambiguous {
            name: text.to_string(),
            candidates: many
                .iter()
                .map(|f| f.key(cluster))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Splits `NS/SELECTOR` and `*/SELECTOR` (None: every namespace). A `/` before the
/// first operator is a namespace's unless it is a label key's prefix: a key prefix has
/// dots (`app.kubernetes.io/name=x`); one without dots needs the namespace written
/// (`ns/prefix/key=x`).
fn selector_namespace<'t>(text: &'t str, scope: &NameScope) -> (Option<String>, &'t str) {
    let before_operator = |s: &str| {
        let op = s.find(['=', '!', '<', '>', '(', ')', ',', ' ', '\t']);
        s.find('/').filter(|slash| op.is_none_or(|op| *slash < op))
    };
    if let Some(slash) = before_operator(text) {
        let (prefix, rest) = (&text[..slash], &text[slash + 1..]);
        if prefix == "*" {
            return (None, rest);
        }
        if before_operator(rest).is_some() || !prefix.contains('.') {
            return (Some(prefix.to_string()), rest);
        }
    }
    (scope.implied(), text)
}

fn resolve_selector<'c>(
    cluster: &'c Cluster,
    text: &str,
    scope: &NameScope,
) -> Result<Target<'c>, TargetError> {
    let (ns, selector) = selector_namespace(text, scope);
    let query = parse_selector(selector).map_err(|message| TargetError::BadSelector {
        selector: selector.to_string(),
        message,
    })?;
    let ns_id = ns.as_deref().map(|n| cluster.namespace_id(n));
    let (inside, outside): (Vec<_>, Vec<_>) = cluster
        .endpoints
        .iter()
        .filter(|e| query.matches(&e.labels))
        .partition(|e| ns_id.is_none_or(|want| want == Some(e.namespace)));
    if inside.is_empty() {
        let hints = if outside.is_empty() {
            String::new()
        } else {
            format!(
                "; {} match in other namespaces (*/{selector} selects in every namespace)",
                outside.len()
            )
        };
        return Err(TargetError::NoMatch {
            selector: selector.to_string(),
            place: match &ns {
                Some(ns) => format!("in namespace {ns}"),
                None => "in any namespace".into(),
            },
            hints,
        });
    }
    Ok(Target::Endpoints {
        name: format!("{}/{selector}", ns.as_deref().unwrap_or("*")),
        ids: inside.iter().map(|e| e.id).collect(),
    })
}

/// A stand-in for a custom resource's pods, `NS/KIND/NAME` (`monitoring/prometheus/k8s`)
/// or `KIND/NAME` in the implied namespace.
fn stand_in<'c>(cluster: &'c Cluster, text: &str, scope: &NameScope) -> Option<Target<'c>> {
    let key = match text.split('/').count() {
        3 => text.to_string(),
        2 => format!("{}/{text}", scope.implied()?),
        _ => return None,
    };
    let id = cluster.endpoint_by_key(&key)?;
    (cluster.endpoint(id).kind == EndpointKind::StandIn).then(|| Target::Endpoints {
        name: key,
        ids: vec![id],
    })
}

/// True for endpoints that stand for future pods: a workload's, or those an operator
/// creates from a custom resource.
pub fn is_template(cluster: &Cluster, e: EndpointId) -> bool {
    matches!(
        cluster.endpoint(e).kind,
        EndpointKind::Workload(_) | EndpointKind::StandIn
    )
}
