//! The network-policy-api conformance suites (v1alpha2 ClusterNetworkPolicy and the
//! v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy of the last v0.1.x
//! release), transcribed into `testdata/tiers-conformance/` (provenance and licence in
//! its README), checked through the analyzer step by step: policy patches, relabels and
//! deletions applied in order, every upstream assertion the expectation. The kernel's
//! run of the same steps is nft/tests/tiers_kernel.rs.

use netfence_analyzer::{reach, Flow, Party};
use netfence_lab::conformance::{base, files, replay};
use netfence_model::Family;

/// Runs a suite version; returns (files, expectations checked, steps needing nodes or
/// hostNetwork pods in a lab).
fn run_suite(version: &str) -> (usize, usize, usize) {
    let base = base();
    let files = files(version);
    let (mut checked, mut needing) = (0, 0);
    for f in &files {
        replay(f, &base, |step| {
            let model = &step.model;
            let id = |k: &str| {
                Party::Endpoint(
                    model
                        .cluster
                        .endpoint_by_key(k)
                        .unwrap_or_else(|| panic!("{}: no pod {k}", step.label)),
                )
            };
            // `needs` names what a kernel lab must provide; the analyzer has those facts
            // in base.yaml, so every step is checked here.
            needing += usize::from(!step.needs.is_empty());
            for e in &step.expect {
                let r = reach(
                    model,
                    Flow {
                        from: id(&e.from),
                        to: id(&e.to),
                        protocol: Some(e.protocol),
                        port: Some(e.port),
                        family: Some(Family::V4),
                    },
                );
                assert_eq!(
                    r.allowed,
                    e.allowed,
                    "{}: {} -> {} {}/{}: upstream says {}\n{}",
                    step.label,
                    e.from,
                    e.to,
                    e.port,
                    e.protocol,
                    if e.allowed { "allowed" } else { "denied" },
                    netfence_analyzer::explain::render(model, &r)
                );
                checked += 1;
            }
        });
    }
    (files.len(), checked, needing)
}

#[test]
fn v1alpha2_cluster_network_policy_conformance() {
    let (files, checked, needing) = run_suite("v1alpha2");
    assert!(
        files >= 10 && checked >= 100,
        "{files} files, {checked} checks"
    );
    eprintln!("v1alpha2: {files} files, {checked} expectations; {needing} steps need nodes or hostNetwork pods in the lab");
}

#[test]
fn v1alpha1_admin_and_baseline_conformance() {
    let (files, checked, needing) = run_suite("v1alpha1");
    assert!(
        files >= 10 && checked >= 100,
        "{files} files, {checked} checks"
    );
    eprintln!("v1alpha1: {files} files, {checked} expectations; {needing} steps need nodes or hostNetwork pods in the lab");
}
