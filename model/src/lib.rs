//! The netfence model: Kubernetes objects in, compiled per-endpoint policy unions out.
//!
//! Pure data in, data out: no I/O, no async, no global state. Files, stdin and the API
//! server are read elsewhere (`netfence-loader`); the analyzer and the nftables renderer
//! both consume [`Model`], so a semantic rule lives in exactly one place.

pub mod addr;
pub mod addr_index;
pub mod bitset;
pub mod cluster;
pub mod compile;
pub mod decision;
pub mod decision_sets;
mod decode;
mod decode_tier;
pub mod docsplit;
pub mod error;
pub mod field_lines;
pub mod intervals;
pub mod isolation;
pub mod lines;
pub mod manifest;
pub mod objects;
pub mod outside;
pub mod owners;
pub mod party;
pub mod patch;
pub mod ports;
pub mod raw;
pub mod raw_tier;
pub mod resolve;
pub mod selector;
pub mod stand_in;
pub mod text;
pub mod tier;
pub mod tier_sets;
pub mod tiers;
pub mod truth;
pub mod unknown;
pub mod validate;
pub mod yaml11;

pub use addr::{AddrSet, Family, IpBlock};
pub use bitset::EndpointSet;
pub use cluster::{Cluster, Endpoint, EndpointId, EndpointKind, NamespaceId, PolicyId};
pub use compile::{Allow, Model, PeerId, PeerMatch, PeerRef, PolicyUnion, UnionId};
pub use error::{ManifestError, Source};
pub use isolation::{Isolation, SubjectIsolation};
pub use manifest::{
    parse_manifest, parse_manifest_in, parse_manifest_on, DefaultedObject, ParsedManifest,
    TargetNamespace,
};
pub use objects::{Object, Peer, Policy, PortSpec, Rule, Workload, WorkloadKind};
pub use party::Party;
pub use patch::{EndpointState, PodChange, Unpatchable};
pub use ports::{PortRange, PortSet, Protocol};
pub use selector::{LabelSelector, Labels};
pub use truth::Truth;

/// Parses, builds and compiles one manifest text; any invalid object is an error.
/// (Convenient for tests and small inputs; loaders that skip bad objects use the parts.)
pub fn compile_text(file: &str, text: &str, default_ns: &str) -> Result<Model, Vec<ManifestError>> {
    let parsed = parse_manifest(file, text, default_ns);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(Model::compile(Cluster::build(parsed.objects)))
}
