//! What goes wrong in the controller, typed: each [`Error`] variant has its label of
//! `netfence_errors_total{kind}` ([`Error::kind`]), so the labels operators alarm on
//! are a closed set named here only ([`ErrorKind`]), never a string made up where the
//! error happens.

use netfence_model::ManifestError;
use netfence_nft::{ApplyError, NameCollision};

/// A failure of the controller's own paths (sources, reconcile, drift check).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An object the watch or a manifest file gave that the model refuses; its last
    /// valid version (if any) stays enforced.
    #[error("{0}")]
    InvalidObject(ManifestError),
    /// The manifests directory cannot be listed; what is enforced stays.
    #[error("cannot list the manifests directory: {0}")]
    Manifests(netfence_loader::LoadError),
    /// A watch stream failed (kube-runtime restarts it with backoff).
    #[error("watching {kind}: {source}")]
    Watch {
        kind: &'static str,
        source: kube::runtime::watcher::Error,
    },
    /// Asking the API server which resources of a group version it serves, to know
    /// which optional kinds to watch (asked again later; nothing changes meanwhile).
    #[error("discovering the resources of {api_version}: {source}")]
    Discovery {
        api_version: String,
        source: kube::Error,
    },
    /// The model cannot be rendered (two contents claimed one set name).
    #[error("rendering the ruleset: {0}")]
    Render(NameCollision),
    /// The kernel refused the change (transactions are atomic: it keeps the old rules).
    #[error("{0}")]
    Apply(ApplyError),
    /// Reading the table back for the drift check, or replacing a drifted table.
    #[error("drift check: {0}")]
    DriftCheck(String),
}

/// The values of `netfence_errors_total{kind}`: one per [`Error`] variant, and those
/// of the connection cutter and the drop reader, which count their failures directly.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// An object the watch or a manifest file gave that the model refuses.
    InvalidObject,
    /// A manifest directory that cannot be read.
    Manifests,
    /// Revoking connections over ctnetlink.
    Conntrack,
    /// Reading NFLOG drop reports.
    Nflog,
    /// Reading the kernel's table back, or repairing it.
    DriftCheck,
    /// Rendering the model into a ruleset.
    Render,
    /// Bringing the kernel to the desired ruleset.
    Apply,
    /// A watch stream that failed (it restarts).
    Watch,
    /// Discovery of the optional kinds served (asked again later).
    Discovery,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidObject => "invalid_object",
            ErrorKind::Manifests => "manifests",
            ErrorKind::Conntrack => "conntrack",
            ErrorKind::Nflog => "nflog",
            ErrorKind::DriftCheck => "drift_check",
            ErrorKind::Render => "render",
            ErrorKind::Apply => "apply",
            ErrorKind::Watch => "watch",
            ErrorKind::Discovery => "discovery",
        }
    }
}

impl Error {
    /// The metric label this error counts under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidObject(_) => ErrorKind::InvalidObject,
            Error::Manifests(_) => ErrorKind::Manifests,
            Error::Watch { .. } => ErrorKind::Watch,
            Error::Discovery { .. } => ErrorKind::Discovery,
            Error::Render(_) => ErrorKind::Render,
            Error::Apply(_) => ErrorKind::Apply,
            Error::DriftCheck(_) => ErrorKind::DriftCheck,
        }
    }
}

impl From<NameCollision> for Error {
    fn from(e: NameCollision) -> Error {
        Error::Render(e)
    }
}

impl From<ApplyError> for Error {
    fn from(e: ApplyError) -> Error {
        Error::Apply(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netfence_model::Source;

    #[test]
    fn every_variant_has_its_own_label() {
        let errors = [
            Error::InvalidObject(ManifestError {
                location: Source::new("cluster", 0),
                object: Some("Pod a/p".into()),
                message: "status.podIP: bad".into(),
            }),
            Error::Manifests(netfence_loader::LoadError::NoManifests("d".into())),
            Error::Render(NameCollision {
                name: "s".into(),
                first: "a".into(),
                second: "b".into(),
            }),
            Error::Apply(ApplyError::Output("x".into())),
            Error::DriftCheck("gone".into()),
            Error::Discovery {
                api_version: "policy.networking.k8s.io/v1alpha2".into(),
                source: kube::Error::LinesCodecMaxLineLengthExceeded,
            },
        ];
        let labels: Vec<&str> = errors.iter().map(|e| e.kind().label()).collect();
        assert_eq!(
            labels,
            [
                "invalid_object",
                "manifests",
                "render",
                "apply",
                "drift_check",
                "discovery"
            ]
        );
        assert_eq!(errors[0].to_string(), "cluster: Pod a/p: status.podIP: bad");
    }
}
