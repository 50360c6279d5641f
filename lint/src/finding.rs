//! A finding: which check, which object, where it is written, and what is wrong.

use crate::catalogue::{Check, Severity};
use netfence_model::{EndpointId, NamespaceId, PolicyId, Source};

/// The object a finding is about, so that suppression can read its annotations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Subject {
    /// A manifest that did not become an object (parse and validation errors).
    Manifest,
    Policy(PolicyId),
    /// Index into `Cluster::services`.
    Service(usize),
    Namespace(NamespaceId),
    /// Index into `Cluster::workloads`.
    Workload(usize),
    /// A pod owned by no workload.
    Endpoint(EndpointId),
    /// Index into `Cluster::tier_policies` (a ClusterNetworkPolicy,
    /// AdminNetworkPolicy or BaselineAdminNetworkPolicy; cluster-scoped).
    TierPolicy(usize),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Finding {
    pub check: &'static Check,
    pub subject: Subject,
    /// `Kind ns/name` (`Namespace name` for namespaces, `Kind name` for the
    /// cluster-scoped tiered policies).
    pub object: String,
    /// `ns/name` (or the namespace's name, or `cnp/name`, `anp/name`, `banp/name` for
    /// the tiered policies): what `ignore[].object` in the config matches.
    pub key: String,
    pub source: Source,
    pub message: String,
}

impl Finding {
    pub fn id(&self) -> &'static str {
        self.check.id
    }

    pub fn severity(&self) -> Severity {
        self.check.severity
    }
}

/// What a lint run found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Sorted by file, line, id and message.
    pub findings: Vec<Finding>,
    /// Findings dropped by an annotation or the config's `ignore` list.
    pub suppressed: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity() == severity)
            .count()
    }

    /// The most severe finding's severity, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(Finding::severity).max()
    }
}
