//! The netfence controller: watch -> model -> ruleset diff -> kernel, on one node.
//!
//! Thin glue over the model, the analyzer and the renderer: sources (`watch`,
//! `manifests`) fill the `store`; the `enforcer` turns it into a ruleset and has
//! `netfence_nft::backend` bring the kernel to it by the smallest correct change; `conntrack` cuts revoked
//! connections; `drops` names dropped packets; `http` serves metrics and health.

pub mod conntrack;
pub mod drops;
pub mod enforcer;
pub mod error;
pub mod health;
pub mod http;
pub mod manifests;
pub mod memory;
pub mod metrics;
pub mod nflog;
pub mod run;
pub mod state;
pub mod store;
pub mod watch;
