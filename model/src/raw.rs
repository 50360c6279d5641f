//! Serde mirrors of the parts of Kubernetes objects the model reads. Lenient on purpose:
//! unknown fields are ignored and everything is optional, so that validation can give a
//! precise message (`objects` turns these into validated model objects).

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A list whose `null` items decode as the item's default, as the API server's JSON
/// decoding does (`ingress: [null]` is the rule `{}`).
pub(crate) fn nullable_items<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
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
    /// Read leniently (see `decode::controller`): the model only takes the controller's
    /// kind and name from it, and a malformed entry is no reason to refuse the object.
    pub owner_references: Option<serde_yaml::Value>,
    /// Set when the object around this metadata had a field of the wrong type; the
    /// object's conversion reports it first (the metadata reaches every conversion,
    /// whatever the kind, which is why it travels here).
    #[serde(skip)]
    pub type_error: Option<TypeError>,
}

/// A field of the wrong type: its path (`spec.template.spec.hostNetwork`), serde's
/// message, and the scalar found there (to find its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub path: String,
    pub message: String,
    pub found: Option<String>,
}

/// The scalar at `path` in `v`, as text.
fn scalar_at(v: &serde_yaml::Value, path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut cur = v;
    for seg in path.iter() {
        cur = match seg {
            Segment::Seq { index } => cur.get(*index)?,
            Segment::Map { key } => cur.get(key.as_str())?,
            _ => return None,
        };
    }
    match cur {
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Decodes a whole object with `de` (the derived decoding), keeping the path of a type
/// error: on failure the object is empty and its metadata carries the error. Reads the
/// value in place: documents are large and this runs for every object.
pub(crate) fn decode_doc<'v, T: Default>(
    value: &'v serde_yaml::Value,
    de: impl FnOnce(
        serde_path_to_error::Deserializer<'_, '_, &'v serde_yaml::Value>,
    ) -> Result<T, serde_yaml::Error>,
    meta: fn(&mut T) -> &mut Meta,
) -> T {
    let mut track = serde_path_to_error::Track::new();
    let result = de(serde_path_to_error::Deserializer::new(value, &mut track));
    match result {
        Ok(doc) => doc,
        Err(e) => {
            let path = track.path();
            let mut doc = T::default();
            meta(&mut doc).type_error = Some(TypeError {
                path: path.to_string(),
                message: e.to_string(),
                found: scalar_at(value, &path),
            });
            doc
        }
    }
}

/// A document type decoded through [`decode_doc`]: a type error is kept in its
/// metadata, so decoding never fails.
pub(crate) trait LocatedDoc: Sized {
    fn from_value(value: &serde_yaml::Value) -> Self;
}

/// The object documents decode through [`decode_doc`] (their derived decoding is the
/// inherent `deserialize` that `#[serde(remote = "Self")]` generates). Each document
/// type needs a `metadata: Meta` field.
macro_rules! located_docs {
    ($($t:ty),*) => {$(
        impl $crate::raw::LocatedDoc for $t {
            fn from_value(value: &serde_yaml::Value) -> Self {
                $crate::raw::decode_doc(value, |de| <$t>::deserialize(de), |doc| &mut doc.metadata)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <serde_yaml::Value as serde::Deserialize>::deserialize(d)?;
                Ok(<$t as $crate::raw::LocatedDoc>::from_value(&value))
            }
        }
    )*};
}
pub(crate) use located_docs;

located_docs!(
    NetworkPolicyDoc,
    PodDoc,
    WorkloadDoc,
    CronJobDoc,
    ServiceDoc,
    NamespaceDoc
);

/// Just enough of a document to dispatch on its kind. A type error in it (a label value
/// `yes`, which YAML 1.1 reads as a boolean) does not fail the header: kind, apiVersion,
/// name and namespace are still read when they are strings, so that the object's own
/// decoding reports the error with its field and line.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct Header {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Meta,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Header::from_value(&serde_yaml::Value::deserialize(d)?))
    }
}

impl LocatedDoc for Header {
    fn from_value(value: &serde_yaml::Value) -> Self {
        let mut h = decode_doc(value, |de| Header::deserialize(de), |h| &mut h.metadata);
        if h.metadata.type_error.is_some() {
            let text = |v: Option<&serde_yaml::Value>| v.and_then(|v| v.as_str()).map(String::from);
            let meta = value.get("metadata");
            h.kind = text(value.get("kind"));
            h.api_version = text(value.get("apiVersion"));
            h.metadata.name = text(meta.and_then(|m| m.get("name")));
            h.metadata.namespace = text(meta.and_then(|m| m.get("namespace")));
        }
        h
    }
}

#[derive(Deserialize, Default, Debug)]
pub struct ListDoc {
    #[serde(default)]
    pub items: Vec<serde_yaml::Value>,
}

/// How a scalar that was not of the expected type is shown in an error (`80.5`, `true`,
/// `a mapping`), so that the message names what was found.
fn found(v: &serde_yaml::Value) -> String {
    use serde_yaml::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => found(&t.value),
    }
}

/// A port number or name, decoded by hand rather than as a serde untagged enum so that a
/// value of neither type (`80.5`, `true`) is kept and reported with its field path and
/// line instead of failing the whole object with serde's "untagged enum" message.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrString {
    Int(i64),
    Str(String),
    /// Neither an integer nor a string: what was found, for the error.
    Invalid(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        Ok(match &v {
            serde_yaml::Value::Number(n) => match n.as_i64() {
                Some(i) => IntOrString::Int(i),
                None => IntOrString::Invalid(found(&v)),
            },
            serde_yaml::Value::String(s) => IntOrString::Str(s.clone()),
            _ => IntOrString::Invalid(found(&v)),
        })
    }
}

/// An integer field (a port number), kept even when it is not an integer so that the
/// error names the field, its line and the value found (`Err` holds what was found).
#[derive(Debug, Clone, PartialEq)]
pub struct IntField(pub Result<i64, String>);

impl IntField {
    pub fn get(&self) -> Result<i64, &str> {
        self.0.as_ref().copied().map_err(String::as_str)
    }
}

impl<'de> Deserialize<'de> for IntField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        Ok(IntField(v.as_i64().ok_or_else(|| found(&v))))
    }
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
#[serde(remote = "Self")]
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
    pub end_port: Option<IntField>,
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
    pub container_port: Option<IntField>,
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
pub struct CronJobDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<CronJobSpec>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: Option<IntField>,
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
#[serde(remote = "Self")]
pub struct ServiceDoc {
    #[serde(default)]
    pub metadata: Meta,
    pub spec: Option<ServiceSpec>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(remote = "Self")]
pub struct NamespaceDoc {
    #[serde(default)]
    pub metadata: Meta,
}
