//! The nftables side of netfence: the compiled model for one node becomes a ruleset in
//! a table of its own (`inet netfence`), applied whole in one atomic transaction or as a
//! delta of set and map elements.
//!
//! `render` builds a [`Ruleset`] (our own small description of tables, sets, maps and
//! chains); `json` and `text` serialise it for `nft -j -f` and `nft -f`; `delta` compares
//! two rulesets; `backend` is the one boundary with the kernel: the [`Backend`] trait,
//! its two implementations ([`Nft`], the `nft` binary, in `apply`; [`Kept`], a kept
//! libnftables context, on `session`), the choice between delta and full replace
//! ([`bring`]) and the summaries of what the kernel holds.

pub mod apply;
pub mod backend;
pub mod delta;
pub mod json;
pub mod names;
pub mod reading;
pub mod render;
pub mod ruleset;
pub mod session;
pub mod set_cache;
pub mod text;
pub mod thread_netns;
pub mod verify;

pub use apply::{ApplyError, Nft};
pub use backend::{bring, Applied, Backend, Kept, Kernel, Summary};
pub use delta::{diff, Change, Delta};
pub use names::NameCollision;
pub use render::{render_cached, render_ruleset, render_with_names, NodeView, RenderOptions};
pub use ruleset::{Ruleset, TABLE};
pub use set_cache::SetCache;
