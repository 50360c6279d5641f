//! The version `version` and `--version` print: the crate's, and the git commit of the
//! tree it was built from (set by build.rs: `unknown` outside git, `-dirty` with changes).

pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("NETFENCE_GIT_COMMIT"),
    ")"
);
