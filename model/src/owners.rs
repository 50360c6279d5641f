//! Which workload a pod belongs to when its ownerReferences say so: the controller chain
//! up to the top-level workload (a Deployment over its ReplicaSet, a CronJob over its
//! Job), also when the objects between are not in the input, as in a pod dump
//! (`kubectl get pods -A -o yaml`): a ReplicaSet's Deployment is its name less the pods'
//! `pod-template-hash` suffix, a Job's CronJob is its name less the scheduled-time suffix.

use crate::objects::{Controller, Pod, Workload, WorkloadKind};
use crate::selector::{LabelSelector, Labels};
use std::collections::BTreeMap;

/// A workload's identity: namespace, kind and name.
pub type WorkloadKey = (String, WorkloadKind, String);

/// The label the Deployment controller puts on a ReplicaSet's pods; the ReplicaSet is
/// named `<deployment>-<hash>`.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The CronJob controller names a Job `<cronjob>-<scheduled time in minutes since the
/// epoch>`: eight digits or more for any time since 1970-03. A shorter number is as
/// likely a Job named by hand (`migrate-2`).
const MIN_SCHEDULE_DIGITS: usize = 8;

/// The top-level workload the controller `c` of an object in namespace `ns` stands for.
/// `labels` are the pods' labels (for the ReplicaSet's hash); `input` the workloads read.
/// None when the controller is no workload kind the model knows (a Node for a mirror
/// pod, an operator's own kind): then the pod is matched by labels as before.
pub fn top_workload(
    ns: &str,
    c: &Controller,
    labels: &Labels,
    input: &BTreeMap<WorkloadKey, Workload>,
) -> Option<WorkloadKey> {
    let kind = WorkloadKind::from_kind(&c.kind)?;
    let key = |k: WorkloadKind, name: &str| (ns.to_string(), k, name.to_string());
    let read = input.get(&key(kind, &c.name));
    let top = match kind {
        WorkloadKind::ReplicaSet => match read {
            Some(rs) => match &rs.controller {
                Some(d) if d.kind == "Deployment" => key(WorkloadKind::Deployment, &d.name),
                _ => key(kind, &c.name),
            },
            None => match deployment_of_replicaset(&c.name, labels) {
                Some(d) => key(WorkloadKind::Deployment, d),
                None => key(kind, &c.name),
            },
        },
        WorkloadKind::Job => match read {
            Some(job) => match &job.controller {
                Some(cj) if cj.kind == "CronJob" => key(WorkloadKind::CronJob, &cj.name),
                _ => key(kind, &c.name),
            },
            None => match cronjob_of_job(&c.name) {
                Some(base) if input.contains_key(&key(WorkloadKind::CronJob, base)) => {
                    key(WorkloadKind::CronJob, base)
                }
                Some(base) if scheduled_suffix(&c.name, base) => key(WorkloadKind::CronJob, base),
                _ => key(kind, &c.name),
            },
        },
        _ => key(kind, &c.name),
    };
    Some(top)
}

/// `web-5d8f7c9b6` with pod-template-hash `5d8f7c9b6` is Deployment `web`.
fn deployment_of_replicaset<'a>(rs: &'a str, labels: &Labels) -> Option<&'a str> {
    let hash = labels.get(POD_TEMPLATE_HASH)?;
    rs.strip_suffix(hash.as_str())?
        .strip_suffix('-')
        .filter(|d| !d.is_empty())
}

/// `report-29104520` is CronJob `report`'s, if any: the name less a `-<digits>` suffix.
fn cronjob_of_job(job: &str) -> Option<&str> {
    let (base, digits) = job.rsplit_once('-')?;
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    (numeric && !base.is_empty()).then_some(base)
}

/// Is the number after `<base>-` in `job` long enough to be a scheduled time?
fn scheduled_suffix(job: &str, base: &str) -> bool {
    let digits = job.len() - base.len() - "-".len();
    digits >= MIN_SCHEDULE_DIGITS
}

/// The workload a pod dump implies but does not hold (its Deployment, say): named by
/// `key`, placed at the first of its pods by name, with that pod's labels and ports as its
/// template. Its selector is empty: only ownerReferences assign pods to it.
pub fn implied_workload(key: &WorkloadKey, pod: &Pod) -> Workload {
    let (ns, kind, name) = key.clone();
    let mut template_labels = pod.meta.labels.clone();
    template_labels.remove(POD_TEMPLATE_HASH);
    Workload {
        kind,
        meta: crate::objects::Meta {
            name,
            namespace: ns,
            labels: Labels::new(),
            annotations: BTreeMap::new(),
            source: pod.meta.source.clone(),
        },
        selector: LabelSelector::default(),
        template_labels,
        ports: pod.ports.clone(),
        host_network: pod.host_network,
        controller: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctrl(kind: &str, name: &str) -> Controller {
        Controller {
            kind: kind.into(),
            name: name.into(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn key(kind: WorkloadKind, name: &str) -> Option<WorkloadKey> {
        Some(("shop".into(), kind, name.into()))
    }

    #[test]
    fn a_replicaset_stands_for_its_deployment_by_the_template_hash() {
        let none = BTreeMap::new();
        let hashed = labels(&[("app", "web"), (POD_TEMPLATE_HASH, "5d8f7c9b6")]);
        let rs = ctrl("ReplicaSet", "web-5d8f7c9b6");
        assert_eq!(
            top_workload("shop", &rs, &hashed, &none),
            key(WorkloadKind::Deployment, "web")
        );
        // Without the hash, or with another one, the ReplicaSet is the workload.
        let other = labels(&[(POD_TEMPLATE_HASH, "abc")]);
        for l in [labels(&[("app", "web")]), other] {
            assert_eq!(
                top_workload("shop", &rs, &l, &none),
                key(WorkloadKind::ReplicaSet, "web-5d8f7c9b6")
            );
        }
    }

    #[test]
    fn jobs_go_to_their_cronjob_when_that_is_unambiguous() {
        let none = BTreeMap::new();
        let l = Labels::new();
        let job = |n: &str| ctrl("Job", n);
        assert_eq!(
            top_workload("shop", &job("report-29104520"), &l, &none),
            key(WorkloadKind::CronJob, "report")
        );
        // A short number may be a Job named by hand.
        assert_eq!(
            top_workload("shop", &job("migrate-2"), &l, &none),
            key(WorkloadKind::Job, "migrate-2")
        );
        assert_eq!(
            top_workload("shop", &job("migrate"), &l, &none),
            key(WorkloadKind::Job, "migrate")
        );
        // Other kinds are their own workload; unknown kinds are none.
        assert_eq!(
            top_workload("shop", &ctrl("StatefulSet", "db"), &l, &none),
            key(WorkloadKind::StatefulSet, "db")
        );
        assert_eq!(top_workload("shop", &ctrl("Node", "n1"), &l, &none), None);
    }
}
