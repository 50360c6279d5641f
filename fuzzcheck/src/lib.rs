//! The checks behind netfence's fuzz targets (`fuzz/`), one module per target.
//!
//! Each check takes the raw bytes a fuzzer (or a corpus file) supplies, runs one stage
//! of the pipeline — parse, compile, lint, render — and panics when an invariant the
//! rest of netfence relies on does not hold. The fuzz targets are one-line calls into
//! this crate, and `tests/corpus.rs` replays the committed corpus through the same
//! functions under a plain `cargo test`, so a finding stays fixed.

pub mod compile;
pub mod invariants;
pub mod lint;
pub mod manifest;
pub mod render;

/// The file name every fuzz input is parsed under (errors and sources must carry it).
pub const FILE: &str = "fuzz.yaml";
/// The namespace of objects that name none.
pub const DEFAULT_NS: &str = "default";
