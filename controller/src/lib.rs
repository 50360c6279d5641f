//! The netfence controller: watch -> model -> ruleset diff -> kernel, on one node.
//!
//! Thin glue over the model, the analyzer and the renderer: sources (`watch`, with
//! `crds` for the kinds whose CRDs come and go, `manifests`) fill the `store` (through the `state::Feed`); `decide` decides when to
//! reconcile, retry, read the kernel back and repair it, with no I/O and no clock;
//! `drive` carries that out through the `enforcer`, which turns the store into a ruleset
//! and has `netfence_nft::backend` bring the kernel to it by the smallest correct change;
//! `run` is the tokio shell around it. `conntrack` cuts revoked connections; `drops`
//! names dropped packets; `http` serves metrics and health; `error` types the failures.

pub mod conntrack;
pub mod crds;
pub mod decide;
pub mod drive;
pub mod drops;
pub mod enforcer;
pub mod error;
pub mod health;
pub mod http;
pub mod manifests;
pub mod memory;
pub mod metrics;
pub mod nflog;
pub(crate) mod nfnetlink;
pub mod run;
pub mod state;
pub mod store;
pub mod watch;
