//! Whether kubectl ran this binary as its plugin (`kubectl netfence ...`), so that usage
//! and errors name the command the user typed.
//!
//! kubectl sets nothing for its plugins (checked with kubectl 1.32: the environment is
//! passed through unchanged, no KUBECTL_PLUGINS_CALLER or the like) and execs the
//! plugin with argv[0] = its path found on PATH. What tells is `_`: the shell (bash,
//! zsh) sets it to the path of the program it runs, here kubectl's, and kubectl passes
//! it on; run straight from the shell, `_` is this binary's own path.

use std::ffi::OsStr;
use std::path::Path;

/// kubectl's file name, or a versioned one (`kubectl.1.32`, as some packages install).
fn is_kubectl(path: &OsStr) -> bool {
    Path::new(path)
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name == "kubectl" || name.starts_with("kubectl."))
}

/// Decided from the environment's `_` (see the module docs).
pub fn run_by_kubectl(underscore: Option<&OsStr>) -> bool {
    underscore.is_some_and(is_kubectl)
}

/// The name usage shows: `kubectl netfence` as kubectl's plugin.
pub fn bin_name() -> Option<&'static str> {
    run_by_kubectl(std::env::var_os("_").as_deref()).then_some("kubectl netfence")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_is_told_from_the_binary_itself() {
        assert!(run_by_kubectl(Some(OsStr::new("/usr/bin/kubectl"))));
        assert!(run_by_kubectl(Some(OsStr::new(
            "/usr/lib/sdk/bin/kubectl.1.32"
        ))));
        assert!(!run_by_kubectl(Some(OsStr::new(
            "/usr/local/bin/kubectl-netfence"
        ))));
        assert!(!run_by_kubectl(Some(OsStr::new("/root/.cargo/bin/cargo"))));
        assert!(!run_by_kubectl(None));
    }
}
