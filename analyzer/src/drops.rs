//! What a controller's `/drops` answers, as one typed document: the controller writes it
//! and `kubectl-netfence drops` reads it, so neither parses the other's text.

use serde::{Deserialize, Serialize};

/// A dropped packet, named: who sent it to whom, which policies isolate the side that
/// dropped it, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReport {
    pub unix_time: u64,
    pub from: String,
    pub to: String,
    pub port: Option<u16>,
    pub protocol: String,
    pub direction: String,
    pub policies: Vec<String>,
    pub message: String,
}

/// Packets the kernel dropped for one policy in one direction (a drop of a pod under
/// several policies counts for each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDrops {
    pub policy: String,
    pub direction: String,
    pub packets: u64,
}

/// The `/drops` document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropsDocument {
    /// The latest drop reports, oldest first.
    pub recent: Vec<DropReport>,
    /// Counters per policy and direction, by policy then direction.
    pub policy_drops: Vec<PolicyDrops>,
}
