//! Prometheus metrics of the controller.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::Error;
pub use crate::error::ErrorKind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FileLineLabel {
    pub file: String,
    pub line: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    pub policy: String,
    pub direction: String,
}

/// A tiered policy's Deny rule.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierRuleLabel {
    pub policy: String,
    pub tier: String,
    pub rule: String,
    pub direction: String,
}

pub struct Metrics {
    registry: Registry,
    pub reconcile_seconds: Histogram,
    pub event_to_kernel_seconds: Histogram,
    pub applies: Family<KindLabel, Counter>,
    pub model_updates: Family<KindLabel, Counter>,
    pub errors: Family<KindLabel, Counter>,
    pub drift_repairs: Counter,
    pub connections_cut: Counter,
    pub revocations_dropped: Counter,
    pub drops: Family<PolicyLabel, Gauge>,
    pub tier_rule_drops: Family<TierRuleLabel, Gauge>,
    pub pods_enforced: Gauge,
    pub chains: Gauge,
    pub rules: Gauge,
    pub sets: Gauge,
    pub elements: Gauge,
    pub objects: Gauge,
    pub manifest_errors: Family<FileLineLabel, Gauge>,
    pub guard_cidrs: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("netfence");
        let buckets = || exponential_buckets(0.0005, 2.0, 16);
        let m = Metrics {
            reconcile_seconds: Histogram::new(buckets()),
            event_to_kernel_seconds: Histogram::new(buckets()),
            applies: Family::default(),
            model_updates: Family::default(),
            errors: Family::default(),
            drift_repairs: Counter::default(),
            connections_cut: Counter::default(),
            revocations_dropped: Counter::default(),
            drops: Family::default(),
            tier_rule_drops: Family::default(),
            pods_enforced: Gauge::default(),
            chains: Gauge::default(),
            rules: Gauge::default(),
            sets: Gauge::default(),
            elements: Gauge::default(),
            objects: Gauge::default(),
            manifest_errors: Family::default(),
            guard_cidrs: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "reconcile_duration_seconds",
            "Time to compile, render and apply one reconcile",
            m.reconcile_seconds.clone(),
        );
        registry.register(
            "event_to_kernel_seconds",
            "Time from the first object change of a reconcile to the kernel holding it",
            m.event_to_kernel_seconds.clone(),
        );
        registry.register(
            "applies",
            "Kernel transactions by kind (delta, full)",
            m.applies.clone(),
        );
        registry.register(
            "model_updates",
            "Model updates by kind (patch: pod events applied in place; compile: rebuilt)",
            m.model_updates.clone(),
        );
        registry.register("errors", "Errors by kind", m.errors.clone());
        registry.register(
            "drift_repairs",
            "Times the kernel table differed from what was applied and was replaced",
            m.drift_repairs.clone(),
        );
        registry.register(
            "connections_cut",
            "Tracked connections deleted because a change denies them",
            m.connections_cut.clone(),
        );
        registry.register(
            "revocations_dropped",
            "Revocation jobs a newer change replaced before they finished",
            m.revocations_dropped.clone(),
        );
        registry.register(
            "policy_drops",
            "Packets dropped in the chains a policy isolates (each isolating policy counts them)",
            m.drops.clone(),
        );
        registry.register(
            "tier_rule_drops",
            "Packets dropped by each Deny rule of a ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy",
            m.tier_rule_drops.clone(),
        );
        registry.register(
            "pods_enforced",
            "Local pods in the ruleset",
            m.pods_enforced.clone(),
        );
        registry.register("ruleset_chains", "Chains in the table", m.chains.clone());
        registry.register("ruleset_rules", "Rules in the table", m.rules.clone());
        registry.register("ruleset_sets", "Sets in the table", m.sets.clone());
        registry.register(
            "ruleset_elements",
            "Set and map elements",
            m.elements.clone(),
        );
        registry.register(
            "objects",
            "Objects the model is built from",
            m.objects.clone(),
        );
        registry.register(
            "manifest_errors",
            "Standalone mode: current errors of the manifest files, by file and line",
            m.manifest_errors.clone(),
        );
        registry.register(
            "unprogrammed_guard_cidrs",
            "Pod CIDRs whose unprogrammed addresses are dropped (0: no guard)",
            m.guard_cidrs.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn model_update(&self, kind: &str) {
        self.model_updates
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// Counts one failure under its variant's label of `netfence_errors_total`.
    pub fn count(&self, e: &Error) {
        self.error(e.kind());
    }

    /// Counts one failure under its kind's label of `netfence_errors_total`.
    pub fn error(&self, kind: ErrorKind) {
        self.errors
            .get_or_create(&KindLabel {
                kind: kind.label().into(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
