//! Where objects come from: manifest files, directories, stdin, or a live cluster.
//! Everything ends in the same [`Loaded`] so the model sees one kind of input.

pub mod api_failure;
pub mod cluster;
pub mod connect;
pub mod files;
pub mod git;
pub mod kustomize;

use netfence_model::{DefaultedObject, ManifestError, Object};
use std::collections::BTreeMap;

/// Objects read from some input, with the errors of the objects that could not be read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    pub errors: Vec<ManifestError>,
    /// Objects of kinds the model does not use, by kind.
    pub skipped: BTreeMap<String, usize>,
    /// The custom resources among the skipped objects (for stand-in endpoints).
    pub custom: Vec<netfence_model::stand_in::CustomResource>,
    /// Files (or API lists) read.
    pub inputs: usize,
    /// The namespaced objects that had no namespace and were placed in the default one.
    pub defaulted: Vec<DefaultedObject>,
    /// Things about the input worth telling the user (a kustomization read as plain
    /// files, a Helm chart left out), one sentence each.
    pub notes: Vec<String>,
}

impl Loaded {
    pub(crate) fn absorb(&mut self, parsed: netfence_model::ParsedManifest) {
        self.objects.extend(parsed.objects);
        self.errors.extend(parsed.errors);
        self.custom.extend(parsed.custom);
        for (k, n) in parsed.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
        self.defaulted.extend(parsed.defaulted);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Names the line and byte offset of the first byte that is not UTF-8.
    #[error("{0}")]
    NotText(netfence_model::ManifestError),
    #[error("{link}: directory loop: it leads back to {target}, which is being read")]
    DirectoryLoop { link: String, target: String },
    #[error("{0}: no manifest files (.yaml, .yml, .json) found")]
    NoManifests(String),
    #[error("{0} is a Helm chart: render it first, e.g. helm template NAME {0} | kubectl-netfence <command> -f -")]
    HelmChart(String),
    #[error("cannot render -k {0}: neither kubectl nor kustomize is on PATH; install kubectl (it runs `kubectl kustomize`) or kustomize (`kustomize build`), or render it yourself and pass the output with -f -")]
    NoKustomize(String),
    /// The renderer ran and failed: its command and what it printed.
    #[error("{command}: {message}")]
    Kustomize { command: String, message: String },
    #[error("kubeconfig: {0}")]
    Config(String),
    #[error("{0}")]
    Git(String),
    #[error("listing {kind} from the API server: {failure}")]
    Api {
        kind: String,
        failure: api_failure::ApiFailure,
    },
    /// Before any request: the client could not be made (TLS settings).
    #[error("{0}")]
    Connect(api_failure::ApiFailure),
    /// An error of a live cluster, with the server and the kubeconfig context.
    /// (`error` is no `source`: the message already holds it.)
    #[error("API server {} (context {}): {error}", target.server, target.context)]
    Cluster {
        target: connect::Target,
        error: Box<LoadError>,
    },
}
