//! Questions over the compiled model: can A reach B on a port, why, and the whole matrix.
//!
//! Every answer comes from [`netfence_model::Model`], the same structure the nftables
//! renderer consumes, so the analyzer and the kernel cannot drift apart semantically.

pub mod destination;
pub mod diff;
pub mod drops;
pub mod explain;
pub mod matrix;
pub mod party;
pub mod reach;

pub use matrix::connections::{ConnectionText, Connections};
pub use matrix::{Matrix, MatrixPort};
pub use netfence_model::{Isolation, Party};
pub use party::{resolve_target, NameScope, Target, TargetError};
pub use reach::{reach, DirectionReach, Flow, Reach, Verdict};
