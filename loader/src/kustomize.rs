//! Kustomize directories (`-k DIR`), rendered as kubectl renders them: `kubectl kustomize
//! DIR`, else `kustomize build DIR`, whichever is on PATH. The rendered stream is read as
//! one manifest named `DIR (kustomize)`; its lines are the stream's, not the source files'.

use crate::LoadError;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file names that make a directory a kustomization (kustomize's own list).
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The program that renders a kustomization, and how it is asked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Renderer {
    /// `kubectl kustomize DIR` (kubectl has kustomize built in).
    Kubectl(PathBuf),
    /// `kustomize build DIR`.
    Kustomize(PathBuf),
}

impl Renderer {
    fn command(&self, dir: &str) -> Command {
        let (program, verb) = match self {
            Renderer::Kubectl(p) => (p, "kustomize"),
            Renderer::Kustomize(p) => (p, "build"),
        };
        let mut c = Command::new(program);
        c.arg(verb).arg(dir);
        c
    }

    /// How the command reads, for messages: `kubectl kustomize DIR`.
    pub fn shown(&self, dir: &str) -> String {
        match self {
            Renderer::Kubectl(_) => format!("kubectl kustomize {dir}"),
            Renderer::Kustomize(_) => format!("kustomize build {dir}"),
        }
    }
}

/// Does `dir` have a kustomization file at its top?
pub fn has_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(search: &OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(search)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

/// The renderer found on the search path `search` (a PATH value): kubectl first, as
/// `kubectl apply -k` is what the manifests are usually applied with.
pub fn find_renderer_in(search: &OsStr) -> Option<Renderer> {
    on_path(search, "kubectl")
        .map(Renderer::Kubectl)
        .or_else(|| on_path(search, "kustomize").map(Renderer::Kustomize))
}

/// The renderer on this process's PATH.
pub fn find_renderer() -> Option<Renderer> {
    find_renderer_in(&std::env::var_os("PATH").unwrap_or_default())
}

/// The name a rendered directory goes by in sources and errors.
pub fn shown_name(dir: &str) -> String {
    format!("{dir} (kustomize)")
}

/// Renders the kustomization `dir` with `renderer`: its output, the manifests kubectl
/// would apply with `-k`.
pub fn render_with(renderer: &Renderer, dir: &str) -> Result<String, LoadError> {
    let command = renderer.shown(dir);
    let output = renderer
        .command(dir)
        .output()
        .map_err(|source| LoadError::Io {
            path: command.clone(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(LoadError::Kustomize {
            command,
            message: stderr.trim().to_string(),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| LoadError::Kustomize {
        command,
        message: "its output is not UTF-8 text".into(),
    })
}

/// Renders `dir` with the renderer on PATH; with none, an error that says what to install.
pub fn render(dir: &str) -> Result<String, LoadError> {
    let renderer = find_renderer().ok_or_else(|| LoadError::NoKustomize(dir.to_string()))?;
    render_with(&renderer, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(rel: &str) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/kustomize")
            .join(rel)
            .display()
            .to_string()
    }

    #[test]
    fn kubectl_is_preferred_and_an_empty_path_has_no_renderer() {
        assert_eq!(find_renderer_in(OsStr::new("")), None);
        let dir = std::env::temp_dir().join(format!("nf-kustomize-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let kustomize = fake("kustomize");
        assert_eq!(
            find_renderer_in(dir.as_os_str()),
            Some(Renderer::Kustomize(kustomize))
        );
        let kubectl = fake("kubectl");
        assert_eq!(
            find_renderer_in(dir.as_os_str()),
            Some(Renderer::Kubectl(kubectl))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_missing_tool_error_says_what_to_install() {
        let e = LoadError::NoKustomize("overlays/prod".into()).to_string();
        assert!(e.contains("-k overlays/prod"), "{e}");
        assert!(e.contains("install kubectl"), "{e}");
        assert!(e.contains("kustomize"), "{e}");
    }

    /// The real `kubectl kustomize`, where kubectl is installed (it renders offline).
    fn kubectl() -> Option<Renderer> {
        find_renderer().filter(|r| matches!(r, Renderer::Kubectl(_)))
    }

    #[test]
    fn an_overlay_renders_through_kubectl_kustomize() {
        let Some(kubectl) = kubectl() else {
            eprintln!("kubectl is not on PATH; skipping the real rendering");
            return;
        };
        let text = render_with(&kubectl, &testdata("overlays/prod")).unwrap();
        // The overlay's namespace, name prefix and label reach the base's objects.
        assert!(text.contains("name: prod-web"), "{text}");
        assert!(text.contains("namespace: shop-prod"), "{text}");
        assert!(text.contains("env: prod"), "{text}");
        let base = render_with(&kubectl, &testdata("base")).unwrap();
        assert!(base.contains("name: web"), "{base}");
        assert!(!base.contains("shop-prod"), "{base}");
    }

    #[test]
    fn a_failed_rendering_names_the_command_and_its_message() {
        let Some(kubectl) = kubectl() else {
            eprintln!("kubectl is not on PATH; skipping the real rendering");
            return;
        };
        let e = render_with(&kubectl, &testdata("no-such-dir")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with("kubectl kustomize "), "{shown}");
        assert!(shown.contains("no-such-dir"), "{shown}");
    }
}
