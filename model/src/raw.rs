//! Serde mirrors of the parts of Kubernetes objects the model reads. Lenient on purpose:
//! unknown fields are ignored and everything is optional, so that validation can give a
//! precise message (`objects` turns these into validated model objects).

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A list whose `null` items decode as the item's default, as the API server's JSON
/// decoding does (`ingress: [null]` is the rule `{}`).
fn nullable_items<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    let v: Option<Vec<Option<T>>> = Option::deserialize(d)?;
    Ok(v.map(|items| items.into_iter().map(Option::unwrap_or_default).collect()))
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Just enough of a document to dispatch on its kind.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Meta,
}

#[derive(Deserialize, Default, Debug)]
pub struct ListDoc {
    #[serde(default)]
    pub items: Vec<serde_yaml::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    Str(String),
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

#[derive(Deserialize, Default, Debug, Clone)]
pub struct Requirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    pub values: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
pub struct NetworkPolicyDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<NetworkPolicySpec>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    pub pod_selector: Option<Selector>,
    pub policy_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ingress: Option<Vec<IngressRule>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub egress: Option<Vec<EgressRule>>,
}

#[derive(Deserialize, Default, Debug)]
pub struct IngressRule {
    #[serde(default, deserialize_with = "nullable_items")]
    pub from: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ports: Option<Vec<PolicyPort>>,
}

#[derive(Deserialize, Default, Debug)]
pub struct EgressRule {
    #[serde(default, deserialize_with = "nullable_items")]
    pub to: Option<Vec<Peer>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ports: Option<Vec<PolicyPort>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub pod_selector: Option<Selector>,
    pub namespace_selector: Option<Selector>,
    pub ip_block: Option<IpBlock>,
}

#[derive(Deserialize, Default, Debug)]
pub struct IpBlock {
    #[serde(default)]
    pub cidr: String,
    pub except: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPort {
    pub protocol: Option<String>,
    pub port: Option<IntOrString>,
    pub end_port: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nullable_items")]
    pub containers: Option<Vec<Container>>,
    pub host_network: Option<bool>,
    pub node_name: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
pub struct Container {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: Option<i64>,
    pub protocol: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
pub struct PodIp {
    pub ip: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs", default, deserialize_with = "nullable_items")]
    pub pod_ips: Option<Vec<PodIp>>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    #[serde(rename = "hostIPs", default, deserialize_with = "nullable_items")]
    pub host_ips: Option<Vec<PodIp>>,
}

#[derive(Deserialize, Default, Debug)]
pub struct PodDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Deserialize, Default, Debug)]
pub struct PodTemplate {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<PodSpec>,
}

/// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and ReplicationController share this
/// shape; `selector` is a LabelSelector for all but ReplicationController (a plain map).
#[derive(Deserialize, Default, Debug)]
pub struct WorkloadSpec {
    pub selector: Option<serde_yaml::Value>,
    pub template: Option<PodTemplate>,
}

#[derive(Deserialize, Default, Debug)]
pub struct WorkloadDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<WorkloadSpec>,
}

#[derive(Deserialize, Default, Debug)]
pub struct JobTemplate {
    pub spec: Option<WorkloadSpec>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    pub job_template: Option<JobTemplate>,
}

#[derive(Deserialize, Default, Debug)]
pub struct CronJobDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<CronJobSpec>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: Option<i64>,
    pub target_port: Option<IntOrString>,
    pub protocol: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    pub selector: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "nullable_items")]
    pub ports: Option<Vec<ServicePort>>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs", default, deserialize_with = "nullable_items")]
    pub cluster_ips: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
pub struct ServiceDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<ServiceSpec>,
}

#[derive(Deserialize, Default, Debug)]
pub struct NamespaceDoc {
    #[serde(default)]
    pub metadata: Meta,
}
