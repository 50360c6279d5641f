//! Validated model objects: what a manifest or the watch describes, once `decode` has
//! checked it as the API server would.

use crate::addr::IpBlock;
use crate::error::Source;
use crate::ports::{PortRef, Protocol};
use crate::selector::{LabelSelector, Labels};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Why a field was rejected: its path in the object, the message, and a piece of text to
/// look for in the document to point at the right line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
    pub needle: Option<String>,
}

impl FieldError {
    pub(crate) fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        needle: Option<String>,
    ) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
            needle,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name, namespace, labels and origin of a namespaced object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub meta: Meta,
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    pub node: Option<String>,
    pub addrs: Vec<IpAddr>,
    pub host_addrs: Vec<IpAddr>,
    /// Succeeded or Failed pods hold no address and are not endpoints.
    pub terminated: bool,
    /// The pod's controller (its ownerReference with `controller: true`), as a pod dump
    /// (`kubectl get pods -o yaml`) has it.
    pub controller: Option<Controller>,
}

/// The ownerReference with `controller: true`: the object that manages this one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Controller {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

impl WorkloadKind {
    pub fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "Deployment" => Self::Deployment,
            "ReplicaSet" => Self::ReplicaSet,
            "StatefulSet" => Self::StatefulSet,
            "DaemonSet" => Self::DaemonSet,
            "Job" => Self::Job,
            "CronJob" => Self::CronJob,
            "ReplicationController" => Self::ReplicationController,
            _ => return None,
        })
    }

    /// Parses the short and long names kubectl accepts (`deploy`, `deployment`, ...).
    pub fn from_alias(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "deploy" | "deployment" | "deployments" => Self::Deployment,
            "rs" | "replicaset" | "replicasets" => Self::ReplicaSet,
            "sts" | "statefulset" | "statefulsets" => Self::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => Self::DaemonSet,
            "job" | "jobs" => Self::Job,
            "cj" | "cronjob" | "cronjobs" => Self::CronJob,
            "rc" | "replicationcontroller" | "replicationcontrollers" => {
                Self::ReplicationController
            }
            _ => return None,
        })
    }

    pub const fn kind(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::ReplicationController => "ReplicationController",
        }
    }

    /// The short name used in endpoint names (`ns/deploy/name`).
    pub fn short(self) -> &'static str {
        match self {
            Self::Deployment => "deploy",
            Self::ReplicaSet => "rs",
            Self::StatefulSet => "sts",
            Self::DaemonSet => "ds",
            Self::Job => "job",
            Self::CronJob => "cronjob",
            Self::ReplicationController => "rc",
        }
    }
}

/// A workload: the pod template stands for the pods it will create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub meta: Meta,
    /// Which pods the workload owns; defaults to the template's labels.
    pub selector: LabelSelector,
    pub template_labels: Labels,
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    /// The workload's own controller (a ReplicaSet's Deployment, a Job's CronJob).
    pub controller: Option<Controller>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub target: PortRef,
    pub protocol: Protocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub meta: Meta,
    /// None: a Service without selector (its endpoints are managed by hand).
    pub selector: Option<Labels>,
    pub ports: Vec<ServicePort>,
    /// `spec.clusterIPs` (or `clusterIP`); empty for headless Services and manifests
    /// that leave the address to the API server.
    pub cluster_ips: Vec<IpAddr>,
}

/// A port entry of a policy rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// A protocol without a port: every port of it.
    AllOf(Protocol),
    Range {
        protocol: Protocol,
        start: u16,
        end: u16,
    },
    /// A container port name, resolved on the destination pod.
    Named { protocol: Protocol, name: String },
}

impl PortSpec {
    pub fn protocol(&self) -> Protocol {
        match self {
            PortSpec::AllOf(p) => *p,
            PortSpec::Range { protocol, .. } | PortSpec::Named { protocol, .. } => *protocol,
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::AllOf(p) => write!(f, "all {p} ports"),
            PortSpec::Range {
                protocol,
                start,
                end,
            } if start == end => write!(f, "{start}/{protocol}"),
            PortSpec::Range {
                protocol,
                start,
                end,
            } => write!(f, "{start}-{end}/{protocol}"),
            PortSpec::Named { protocol, name } => write!(f, "{name}/{protocol}"),
        }
    }
}

/// A peer of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Pods chosen by label. `namespace: None` means the policy's own namespace;
    /// `pod: None` means every pod of the chosen namespaces. Both set: AND.
    Selectors {
        namespace: Option<LabelSelector>,
        pod: Option<LabelSelector>,
    },
    Block(IpBlock),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Selectors { namespace, pod } => {
                let mut parts = Vec::new();
                if let Some(ns) = namespace {
                    parts.push(format!("namespaceSelector {ns}"));
                }
                if let Some(p) = pod {
                    parts.push(format!("podSelector {p}"));
                }
                f.write_str(&parts.join(" AND "))
            }
            Peer::Block(b) => write!(f, "ipBlock {b}"),
        }
    }
}

/// A rule: `peers` empty means every peer (absent or empty from/to); `ports` empty means
/// every port of every protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    pub peers: Vec<Peer>,
    pub ports: Vec<PortSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub meta: Meta,
    pub pod_selector: LabelSelector,
    /// `policyTypes` as written (None when absent or empty, so defaulting applied).
    pub declared_types: Option<Vec<Direction>>,
    /// Effective policy types after defaulting.
    pub affects_ingress: bool,
    pub affects_egress: bool,
    /// The rules as written; those of a direction not affected are ignored by enforcement.
    pub ingress_rules: Vec<Rule>,
    pub egress_rules: Vec<Rule>,
    /// Where its fields are written (for findings that point at one).
    pub lines: crate::field_lines::PolicyLines,
}

impl Policy {
    pub fn affects(&self, d: Direction) -> bool {
        match d {
            Direction::Ingress => self.affects_ingress,
            Direction::Egress => self.affects_egress,
        }
    }

    /// The rules that take effect in direction `d` (none when `d` is not a policy type).
    pub fn rules(&self, d: Direction) -> &[Rule] {
        match d {
            Direction::Ingress if self.affects_ingress => &self.ingress_rules,
            Direction::Egress if self.affects_egress => &self.egress_rules,
            _ => &[],
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.meta.namespace, self.meta.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    Namespace(Namespace),
    Pod(Pod),
    Workload(Workload),
    Service(Service),
    Policy(Policy),
    /// A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy.
    TierPolicy(crate::tier::TierPolicy),
    Node(crate::tier::Node),
}

impl Object {
    /// Where the object was read.
    pub fn source(&self) -> &Source {
        match self {
            Object::Namespace(n) => &n.source,
            Object::Pod(p) => &p.meta.source,
            Object::Workload(w) => &w.meta.source,
            Object::Service(s) => &s.meta.source,
            Object::Policy(p) => &p.meta.source,
            Object::TierPolicy(p) => &p.source,
            Object::Node(n) => &n.source,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Object::Namespace(n) => format!("Namespace {}", n.name),
            Object::Pod(p) => format!("Pod {}/{}", p.meta.namespace, p.meta.name),
            Object::Workload(w) => {
                format!("{} {}/{}", w.kind.kind(), w.meta.namespace, w.meta.name)
            }
            Object::Service(s) => format!("Service {}/{}", s.meta.namespace, s.meta.name),
            Object::Policy(p) => format!("NetworkPolicy {}/{}", p.meta.namespace, p.meta.name),
            Object::TierPolicy(p) => format!("{} {}", p.kind.kind(), p.name),
            Object::Node(n) => format!("Node {}", n.name),
        }
    }
}
