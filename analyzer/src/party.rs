//! Parsing of the names users give the ends of a flow.

use ipnet::IpNet;
use netfence_model::cluster::EndpointKind;
use netfence_model::objects::{Service, WorkloadKind};
use netfence_model::{Cluster, EndpointId, Party};
use std::net::IpAddr;

/// What a user named on the command line.
#[derive(Clone, Debug)]
pub enum Target<'c> {
    /// Pods or templates (one for a pod, all of a workload's for a workload).
    Endpoints {
        name: String,
        ids: Vec<EndpointId>,
    },
    Service(&'c Service),
    External(IpNet),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("no pod or workload named {0}")]
    NotFound(String),
    #[error("{name} is ambiguous: it names {candidates}; use ns/kind/name")]
    Ambiguous { name: String, candidates: String },
    #[error(
        "unknown kind {kind:?} in {name}: use pod, deploy, sts, ds, job, cronjob, rs, rc, svc, or the kind of a custom resource that has a stand-in"
    )]
    UnknownKind { name: String, kind: String },
    #[error("{0} has no pods in the input")]
    Empty(String),
}

/// Resolves `ns/name`, `ns/kind/name`, `name` (in `default_ns`), an IP or a CIDR.
/// An IP that belongs to a known pod is that pod.
pub fn resolve_target<'c>(
    cluster: &'c Cluster,
    text: &str,
    default_ns: &str,
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
    let parts: Vec<&str> = text.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [name] => (default_ns, None, *name),
        [ns, name] => (*ns, None, *name),
        [ns, kind, name] => (*ns, Some(*kind), *name),
        _ => return Err(TargetError::NotFound(text.to_string())),
    };
    let full = format!("{ns}/{name}");
    let workload = |wk: WorkloadKind| -> Result<Target<'c>, TargetError> {
        let key = format!("{ns}/{}/{name}", wk.short());
        let w = cluster
            .find_workload(ns, wk, name)
            .ok_or_else(|| TargetError::NotFound(key.clone()))?;
        let ids = cluster.workload_endpoints(w);
        if ids.is_empty() {
            return Err(TargetError::Empty(key));
        }
        Ok(Target::Endpoints { name: key, ids })
    };
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("pod" | "po" | "pods") => {
            let id = cluster
                .endpoint_by_key(&full)
                .ok_or_else(|| TargetError::NotFound(format!("{ns}/pod/{name}")))?;
            Ok(Target::Endpoints {
                name: full,
                ids: vec![id],
            })
        }
        Some("svc" | "service" | "services") => cluster
            .find_service(ns, name)
            .map(Target::Service)
            .ok_or_else(|| TargetError::NotFound(format!("{ns}/svc/{name}"))),
        Some(k) => match WorkloadKind::from_alias(k) {
            Some(wk) => workload(wk),
            // A stand-in for a custom resource's pods: `monitoring/prometheus/k8s`.
            None if cluster.endpoint_by_key(text).is_some() => Ok(Target::Endpoints {
                name: text.to_string(),
                ids: cluster.endpoint_by_key(text).into_iter().collect(),
            }),
            None => Err(TargetError::UnknownKind {
                name: text.to_string(),
                kind: k.to_string(),
            }),
        },
        None => {
            if let Some(id) = cluster.endpoint_by_key(&full) {
                return Ok(Target::Endpoints {
                    name: full,
                    ids: vec![id],
                });
            }
            let matches: Vec<WorkloadKind> = cluster
                .workloads
                .iter()
                .filter(|w| w.meta.namespace == ns && w.meta.name == name)
                .map(|w| w.kind)
                .collect();
            match matches.as_slice() {
                [wk] => workload(*wk),
                [] => Err(TargetError::NotFound(full)),
                many => Err(TargetError::Ambiguous {
                    name: full,
                    candidates: many
                        .iter()
                        .map(|k| format!("{ns}/{}/{name}", k.short()))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        }
    }
}

/// True for endpoints that stand for a workload's future pods.
pub fn is_template(cluster: &Cluster, e: EndpointId) -> bool {
    matches!(
        cluster.endpoint(e).kind,
        EndpointKind::Workload(_) | EndpointKind::StandIn
    )
}
