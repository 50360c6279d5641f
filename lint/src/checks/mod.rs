//! One module per family of checks.

pub mod dns;
pub mod intent;
pub mod invalid;
pub mod ipblock;
pub mod peer_shape;
pub mod policy_types;
pub mod ports;
pub mod redundancy;
pub mod selection;
pub mod services;
pub mod tiers;
pub mod trust;

use crate::context::Context;
use crate::coverage;
use crate::finding::Finding;

/// Runs every family whose checks are enabled.
pub fn run_all(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let any = |ids: &[&str]| ids.iter().any(|id| ctx.enabled(id));
    if any(&["NF101", "NF102", "NF103"]) {
        selection::run(ctx, out);
    }
    if any(&["NF201", "NF202"]) {
        policy_types::run(ctx, out);
    }
    if any(&["NF203", "NF204"]) {
        peer_shape::run(ctx, out);
    }
    if any(&["NF205", "NF206"]) {
        intent::run(ctx, out);
    }
    if any(&["NF207"]) {
        dns::run(ctx, out);
    }
    if any(&["NF301", "NF302", "NF303"]) {
        ports::run(ctx, out);
    }
    if any(&["NF304", "NF305"]) {
        services::run(ctx, out);
    }
    if any(&["NF401", "NF402", "NF404", "NF405"]) {
        ipblock::run(ctx, out);
    }
    if any(&["NF501", "NF502"]) {
        trust::run(ctx, out);
    }
    if any(&["NF601", "NF602"]) {
        redundancy::run(ctx, out);
    }
    if any(&["NF701", "NF702", "NF703"]) {
        coverage::run(ctx, out);
    }
    if any(tiers::IDS) {
        tiers::run(ctx, out);
    }
}
