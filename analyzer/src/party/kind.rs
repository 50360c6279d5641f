//! The kinds a name may carry, spelled every way kubectl accepts them.

use netfence_model::objects::WorkloadKind;

/// What a `KIND/` part of a name asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Pod,
    Service,
    Workload(WorkloadKind),
}

impl NameKind {
    /// The short spelling used in the keys this crate prints (`ns/deploy/name`).
    pub fn short(self) -> &'static str {
        match self {
            NameKind::Pod => "pod",
            NameKind::Service => "svc",
            NameKind::Workload(k) => k.short(),
        }
    }

    /// The kind in lower case, for messages (`no deployment named ...`).
    pub fn noun(self) -> String {
        match self {
            NameKind::Pod => "pod".into(),
            NameKind::Service => "service".into(),
            NameKind::Workload(k) => k.kind().to_ascii_lowercase(),
        }
    }

    /// The API group of the kind ("" for the core group).
    fn group(self) -> &'static str {
        match self {
            NameKind::Pod | NameKind::Service => "",
            NameKind::Workload(WorkloadKind::ReplicationController) => "",
            NameKind::Workload(WorkloadKind::Job | WorkloadKind::CronJob) => "batch",
            NameKind::Workload(_) => "apps",
        }
    }
}

/// Reads a kind as kubectl does: the short name, the singular or the plural, in any case,
/// optionally followed by its group (`deployment.apps`) or version and group
/// (`deployments.v1.apps`). None when it is not a kind this tool knows, or the group is
/// not the kind's.
pub fn parse_kind(text: &str) -> Option<NameKind> {
    let lower = text.to_ascii_lowercase();
    let (resource, qualifier) = match lower.split_once('.') {
        Some((r, q)) => (r, Some(q)),
        None => (lower.as_str(), None),
    };
    let kind = match resource {
        "po" | "pod" | "pods" => NameKind::Pod,
        "svc" | "service" | "services" => NameKind::Service,
        other => NameKind::Workload(WorkloadKind::from_alias(other)?),
    };
    match qualifier {
        None => Some(kind),
        Some(q) => {
            let group = kind.group();
            let versioned = q
                .split_once('.')
                .is_some_and(|(v, g)| is_version(v) && g == group);
            (!group.is_empty() && (q == group || versioned)).then_some(kind)
        }
    }
}

/// `v1`, `v1beta1`, `v2alpha3`: an API version.
fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_every_kind() {
        use WorkloadKind::*;
        let cases: &[(&[&str], NameKind)] = &[
            (&["po", "pod", "pods", "Pod", "PODS"], NameKind::Pod),
            (
                &["svc", "service", "services", "Service"],
                NameKind::Service,
            ),
            (
                &[
                    "deploy",
                    "deployment",
                    "deployments",
                    "Deployment",
                    "deployment.apps",
                    "deployments.apps",
                    "deployments.v1.apps",
                ],
                NameKind::Workload(Deployment),
            ),
            (
                &["sts", "statefulset", "statefulsets", "statefulset.apps"],
                NameKind::Workload(StatefulSet),
            ),
            (
                &["ds", "daemonset", "daemonsets", "DaemonSets.apps"],
                NameKind::Workload(DaemonSet),
            ),
            (
                &["rs", "replicaset", "replicasets", "replicaset.apps"],
                NameKind::Workload(ReplicaSet),
            ),
            (
                &["rc", "replicationcontroller", "replicationcontrollers"],
                NameKind::Workload(ReplicationController),
            ),
            (&["job", "jobs", "job.batch"], NameKind::Workload(Job)),
            (
                &[
                    "cj",
                    "cronjob",
                    "cronjobs",
                    "cronjobs.batch",
                    "cronjob.v1.batch",
                ],
                NameKind::Workload(CronJob),
            ),
        ];
        for (spellings, want) in cases {
            for s in *spellings {
                assert_eq!(parse_kind(s), Some(*want), "{s}");
            }
        }
    }

    #[test]
    fn other_words_and_wrong_groups_are_not_kinds() {
        for s in [
            "shop",
            "deployment.batch",
            "job.apps",
            "pod.apps",
            "deployments.apps.extra",
            "deployments.x1.apps",
            "configmap",
        ] {
            assert_eq!(parse_kind(s), None, "{s}");
        }
    }
}
