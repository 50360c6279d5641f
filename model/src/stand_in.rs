//! Stand-ins for the pods operators create from custom resources (a `Prometheus` becomes
//! a StatefulSet the manifests do not hold): which labels, and optionally which ports,
//! the pods of a custom resource of a kind get. Built-in rules cover common operators; a
//! YAML file adds to them or overrides them (by kind and API group).
//!
//! File format (a list, or `standIns:` holding one):
//! ```yaml
//! - kind: Prometheus
//!   group: monitoring.coreos.com
//!   labels:
//!     app.kubernetes.io/name: prometheus
//!     prometheus: "{name}"
//!   ports:                      # optional
//!   - {name: web, port: 9090}   # protocol: TCP by default
//! ```
//! Label values may use `{name}` and `{namespace}` of the custom resource.

use crate::error::Source;
use crate::objects::ContainerPort;
use crate::ports::Protocol;
use crate::selector::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;

/// An object of a kind the model does not read, from an API group that is no part of
/// Kubernetes itself: a custom resource, which an operator may turn into pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomResource {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub source: Source,
}

impl CustomResource {
    /// `Prometheus monitoring/k8s`.
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    /// The group of an apiVersion that names a custom resource's API (`monitoring.coreos.com`
    /// of `monitoring.coreos.com/v1`): one with a dot that is not Kubernetes' own
    /// (`*.k8s.io`).
    pub fn group_of(api_version: &str) -> Option<&str> {
        let (group, _) = api_version.split_once('/')?;
        let builtin = group == "k8s.io" || group.ends_with(".k8s.io");
        (group.contains('.') && !builtin).then_some(group)
    }
}

/// What the pods of one kind of custom resource look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandInRule {
    pub group: String,
    pub kind: String,
    /// Label values may hold `{name}` and `{namespace}`.
    pub labels: Labels,
    pub ports: Vec<ContainerPort>,
}

impl StandInRule {
    /// The labels of the pods of `cr`.
    pub fn labels_for(&self, cr: &CustomResource) -> Labels {
        self.labels
            .iter()
            .map(|(k, v)| {
                let v = v
                    .replace("{name}", &cr.name)
                    .replace("{namespace}", &cr.namespace);
                (k.clone(), v)
            })
            .collect()
    }
}

/// The rules in use, by (group, kind).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StandInRules {
    rules: BTreeMap<(String, String), StandInRule>,
}

fn port(name: &str, port: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        port,
        protocol: Protocol::Tcp,
    }
}

fn rule(
    group: &str,
    kind: &str,
    labels: &[(&str, &str)],
    ports: Vec<ContainerPort>,
) -> StandInRule {
    StandInRule {
        group: group.into(),
        kind: kind.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports,
    }
}

impl StandInRules {
    /// No rules at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// The labels the common operators always put on the pods they create (those that
    /// vary per pod, such as a shard or a primary/replica role, are left out).
    pub fn builtin() -> Self {
        const PO: &str = "monitoring.coreos.com";
        let managed = ("app.kubernetes.io/managed-by", "prometheus-operator");
        let instance = ("app.kubernetes.io/instance", "{name}");
        let mut r = Self::default();
        for rule in [
            rule(
                PO,
                "Prometheus",
                &[
                    ("app.kubernetes.io/name", "prometheus"),
                    instance,
                    managed,
                    ("operator.prometheus.io/name", "{name}"),
                    ("prometheus", "{name}"),
                ],
                vec![port("web", 9090)],
            ),
            rule(
                PO,
                "Alertmanager",
                &[
                    ("app.kubernetes.io/name", "alertmanager"),
                    instance,
                    managed,
                    ("alertmanager", "{name}"),
                ],
                vec![port("web", 9093), port("mesh-tcp", 9094)],
            ),
            rule(
                PO,
                "ThanosRuler",
                &[
                    ("app.kubernetes.io/name", "thanos-ruler"),
                    instance,
                    managed,
                    ("thanos-ruler", "{name}"),
                ],
                vec![port("grpc", 10901), port("web", 10902)],
            ),
            rule(
                "elasticsearch.k8s.elastic.co",
                "Elasticsearch",
                &[
                    ("common.k8s.elastic.co/type", "elasticsearch"),
                    ("elasticsearch.k8s.elastic.co/cluster-name", "{name}"),
                ],
                vec![port("https", 9200), port("transport", 9300)],
            ),
            rule(
                "kafka.strimzi.io",
                "Kafka",
                &[
                    ("strimzi.io/cluster", "{name}"),
                    ("strimzi.io/kind", "Kafka"),
                ],
                vec![],
            ),
            rule(
                "postgresql.cnpg.io",
                "Cluster",
                &[("cnpg.io/cluster", "{name}")],
                vec![port("postgresql", 5432), port("metrics", 9187)],
            ),
        ] {
            r.insert(rule);
        }
        r
    }

    /// Adds a rule, replacing one for the same group and kind.
    pub fn insert(&mut self, rule: StandInRule) {
        self.rules
            .insert((rule.group.clone(), rule.kind.clone()), rule);
    }

    pub fn find(&self, group: &str, kind: &str) -> Option<&StandInRule> {
        self.rules.get(&(group.to_string(), kind.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &StandInRule> {
        self.rules.values()
    }

    /// Reads the rules of a stand-ins file (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Vec<StandInRule>, String> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Doc {
            List(Vec<RawRule>),
            Wrapped {
                #[serde(rename = "standIns")]
                stand_ins: Vec<RawRule>,
            },
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawRule {
            kind: String,
            group: String,
            labels: BTreeMap<String, String>,
            #[serde(default)]
            ports: Vec<RawPort>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawPort {
            name: Option<String>,
            port: u16,
            protocol: Option<String>,
        }
        let doc: Doc = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}", l.line()))
                .unwrap_or_default();
            format!(
                "{file}{at}: not a stand-ins file (a list of {{kind, group, labels, ports}}): {e}"
            )
        })?;
        let raw = match doc {
            Doc::List(l) | Doc::Wrapped { stand_ins: l } => l,
        };
        raw.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let at = format!("{file}: entry {i} ({})", r.kind);
                if r.kind.is_empty() || r.group.is_empty() {
                    return Err(format!("{at}: kind and group must not be empty"));
                }
                if r.labels.is_empty() {
                    return Err(format!(
                        "{at}: labels must not be empty (they are what selectors see)"
                    ));
                }
                let ports = r
                    .ports
                    .into_iter()
                    .map(|p| {
                        let protocol = match p.protocol.as_deref() {
                            None => Protocol::Tcp,
                            Some(s) => s.parse::<Protocol>().map_err(|e| format!("{at}: {e}"))?,
                        };
                        Ok(ContainerPort {
                            name: p.name,
                            port: p.port,
                            protocol,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(StandInRule {
                    group: r.group,
                    kind: r.kind,
                    labels: r.labels,
                    ports,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr(group: &str, kind: &str, ns: &str, name: &str) -> CustomResource {
        CustomResource {
            group: group.into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            source: Source::new("t.yaml", 1),
        }
    }

    #[test]
    fn builtin_prometheus_labels() {
        let rules = StandInRules::builtin();
        let r = rules.find("monitoring.coreos.com", "Prometheus").unwrap();
        let l = r.labels_for(&cr(
            "monitoring.coreos.com",
            "Prometheus",
            "monitoring",
            "k8s",
        ));
        assert_eq!(l["prometheus"], "k8s");
        assert_eq!(l["app.kubernetes.io/name"], "prometheus");
        assert_eq!(l["operator.prometheus.io/name"], "k8s");
        assert!(rules.find("example.com", "Prometheus").is_none());
    }

    #[test]
    fn file_rules_parse_and_override() {
        let text = "- kind: Prometheus\n  group: monitoring.coreos.com\n  labels: {app: prom, ns: \"{namespace}\"}\n  ports: [{name: web, port: 9090}]\n";
        let parsed = StandInRules::parse("s.yaml", text).unwrap();
        let mut rules = StandInRules::builtin();
        for r in parsed {
            rules.insert(r);
        }
        let r = rules.find("monitoring.coreos.com", "Prometheus").unwrap();
        let l = r.labels_for(&cr("monitoring.coreos.com", "Prometheus", "mon", "k8s"));
        assert_eq!(l.len(), 2);
        assert_eq!(l["ns"], "mon");
        assert_eq!(r.ports[0].port, 9090);
        let wrapped = "standIns:\n- {kind: X, group: x.io, labels: {a: b}}\n";
        assert_eq!(StandInRules::parse("s.yaml", wrapped).unwrap().len(), 1);
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(StandInRules::parse("s.yaml", "- kind: X\n  group: x.io\n  labels: {}\n").is_err());
        let e = StandInRules::parse("s.yaml", "- kind: X\n  labels: {a: b}\n").unwrap_err();
        assert!(e.starts_with("s.yaml"), "{e}");
        assert!(StandInRules::parse(
            "s.yaml",
            "- {kind: X, group: x.io, labels: {a: b}, ports: [{port: 1, protocol: ICMP}]}\n"
        )
        .is_err());
    }

    #[test]
    fn custom_groups() {
        assert_eq!(
            CustomResource::group_of("monitoring.coreos.com/v1"),
            Some("monitoring.coreos.com")
        );
        assert_eq!(CustomResource::group_of("v1"), None);
        assert_eq!(CustomResource::group_of("apps/v1"), None);
        assert_eq!(
            CustomResource::group_of("rbac.authorization.k8s.io/v1"),
            None
        );
    }
}

/// Custom resources without a stand-in in a namespace where some policy's subject or
/// peer selects no pod: the pods those selectors are after may be the operator's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnrepresentedCustom {
    pub namespace: String,
    pub kind: String,
    pub count: usize,
    /// Which selector selects nothing there, for a person.
    pub why: String,
}

impl crate::compile::Model {
    /// See [`UnrepresentedCustom`]; by namespace and kind.
    pub fn unrepresented_custom_resources(&self) -> Vec<UnrepresentedCustom> {
        use crate::objects::{Direction, Peer};
        let cluster = &self.cluster;
        let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
        for cr in &cluster.custom_resources {
            *by.entry((cr.namespace.clone(), cr.kind.clone()))
                .or_default() += 1;
        }
        let mut out = Vec::new();
        let mut why_of: BTreeMap<String, Option<String>> = BTreeMap::new();
        for ((ns, kind), count) in by {
            let why = why_of
                .entry(ns.clone())
                .or_insert_with(|| {
                    let id = cluster.namespace_id(&ns)?;
                    let none_in = |sel: &crate::selector::LabelSelector| {
                        !cluster.endpoints.iter().any(|e| {
                            e.namespace == id && e.on_pod_network() && sel.matches(&e.labels)
                        })
                    };
                    for (pi, p) in cluster.policies.iter().enumerate() {
                        let own = cluster.policy_namespace[pi];
                        if own == id && !p.pod_selector.is_empty() && none_in(&p.pod_selector) {
                            return Some(format!(
                                "podSelector {} of {} selects no pod there",
                                p.pod_selector,
                                p.key()
                            ));
                        }
                        for d in Direction::BOTH {
                            for rule in p.rules(d) {
                                for peer in &rule.peers {
                                    let Peer::Selectors {
                                        namespace,
                                        pod: Some(psel),
                                    } = peer
                                    else {
                                        continue;
                                    };
                                    let covers = match namespace {
                                        None => own == id,
                                        Some(sel) => cluster.namespace_truth(sel, id).is_possible(),
                                    };
                                    if covers && !psel.is_empty() && none_in(psel) {
                                        return Some(format!(
                                            "peer podSelector {psel} of {} selects no pod there",
                                            p.key()
                                        ));
                                    }
                                }
                            }
                        }
                    }
                    None
                })
                .clone();
            if let Some(why) = why {
                out.push(UnrepresentedCustom {
                    namespace: ns,
                    kind,
                    count,
                    why,
                });
            }
        }
        out
    }
}
