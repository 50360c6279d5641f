//! Serde mirrors of the tiered policies (`policy.networking.k8s.io/v1alpha2`
//! ClusterNetworkPolicy, `v1alpha1` AdminNetworkPolicy and BaselineAdminNetworkPolicy) and
//! of Node, lenient like [`crate::raw`]: everything optional, unknown fields ignored, so
//! that `decode_tier` can say precisely what the API server would refuse.
//!
//! The three policy kinds share one mirror: it holds the union of their fields (v1alpha2's
//! `tier` and `protocols`, v1alpha1's `ports`, every peer field), and the decoding checks
//! which of them the object's kind and direction have. A field of the other version or
//! direction in the wrong place is then reported by name rather than dropped unseen.

use crate::raw::{located_docs, nullable_items, IntField, Meta, Selector};
use serde::Deserialize;

/// A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy.
#[derive(Deserialize, Default, Debug)]
#[serde(remote = "Self")]
pub struct TierPolicyDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<TierSpec>,
}

#[derive(Deserialize, Default, Debug)]
pub struct TierSpec {
    /// v1alpha2 only: `Admin` or `Baseline`.
    pub tier: Option<String>,
    /// ClusterNetworkPolicy and AdminNetworkPolicy; a BaselineAdminNetworkPolicy has none.
    pub priority: Option<IntField>,
    pub subject: Option<Subject>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ingress: Option<Vec<TierRule>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub egress: Option<Vec<TierRule>>,
}

/// `subject`: exactly one field.
#[derive(Deserialize, Default, Debug)]
pub struct Subject {
    pub namespaces: Option<Selector>,
    pub pods: Option<NamespacedPod>,
}

/// `pods` of a subject or a peer.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedPod {
    pub namespace_selector: Option<Selector>,
    pub pod_selector: Option<Selector>,
}

/// An ingress or egress rule of any of the three kinds.
#[derive(Deserialize, Default, Debug)]
pub struct TierRule {
    pub name: Option<String>,
    pub action: Option<String>,
    /// Ingress rules.
    #[serde(default, deserialize_with = "nullable_items")]
    pub from: Option<Vec<TierPeer>>,
    /// Egress rules.
    #[serde(default, deserialize_with = "nullable_items")]
    pub to: Option<Vec<TierPeer>>,
    /// v1alpha2 (ClusterNetworkPolicy).
    #[serde(default, deserialize_with = "nullable_items")]
    pub protocols: Option<Vec<CnpProtocol>>,
    /// v1alpha1 (AdminNetworkPolicy, BaselineAdminNetworkPolicy).
    #[serde(default, deserialize_with = "nullable_items")]
    pub ports: Option<Vec<AnpPort>>,
}

/// A peer: exactly one field, which ones depending on kind and direction.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct TierPeer {
    pub namespaces: Option<Selector>,
    pub pods: Option<NamespacedPod>,
    pub nodes: Option<Selector>,
    pub networks: Option<Vec<String>>,
    pub domain_names: Option<Vec<String>>,
}

/// v1alpha2 `protocols` entry: exactly one field.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CnpProtocol {
    pub tcp: Option<CnpProtocolPorts>,
    pub udp: Option<CnpProtocolPorts>,
    pub sctp: Option<CnpProtocolPorts>,
    pub destination_named_port: Option<String>,
}

/// The body of `tcp`, `udp` and `sctp`.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CnpProtocolPorts {
    pub destination_port: Option<CnpPort>,
}

/// v1alpha2 `destinationPort`: exactly one of `number` and `range`.
#[derive(Deserialize, Default, Debug)]
pub struct CnpPort {
    pub number: Option<IntField>,
    pub range: Option<PortRange>,
}

/// A port range of either version (`protocol` is v1alpha1's).
#[derive(Deserialize, Default, Debug)]
pub struct PortRange {
    pub protocol: Option<String>,
    pub start: Option<IntField>,
    pub end: Option<IntField>,
}

/// v1alpha1 `ports` entry: exactly one field.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct AnpPort {
    pub port_number: Option<AnpPortNumber>,
    pub named_port: Option<String>,
    pub port_range: Option<PortRange>,
}

#[derive(Deserialize, Default, Debug)]
pub struct AnpPortNumber {
    pub protocol: Option<String>,
    pub port: Option<IntField>,
}

/// A Node: its labels (in `metadata`) and `status.addresses`.
#[derive(Deserialize, Default, Debug)]
#[serde(remote = "Self")]
pub struct NodeDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub status: Option<NodeStatus>,
}

#[derive(Deserialize, Default, Debug)]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "nullable_items")]
    pub addresses: Option<Vec<NodeAddress>>,
}

/// `{type, address}`: `InternalIP`, `ExternalIP` hold addresses; `Hostname`,
/// `InternalDNS`, `ExternalDNS` names.
#[derive(Deserialize, Default, Debug)]
pub struct NodeAddress {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub address: Option<String>,
}

located_docs!(TierPolicyDoc, NodeDoc);
