//! The construction of model objects from the raw serde mirrors, with the same checks
//! the API server applies (so what we accept is what a cluster would accept): names,
//! labels, ports, selectors, addresses, each error naming its field path.

use crate::addr::IpBlock;
use crate::error::Source;
use crate::objects::*;
use crate::ports::{validate_port_name, PortRef, Protocol};
use crate::raw;
use crate::selector::{LabelSelector, Labels, Requirement};
use crate::validate;
use std::net::IpAddr;

/// The text to look for to find the line of a bad value: the value itself when it can
/// be written plainly, else its key.
pub(crate) fn needle(value: &str, key: &str) -> Option<String> {
    let plain = !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic());
    Some(if plain { value } else { key }.to_string())
}

/// The object name rule of a kind, as the API server's `ValidateObjectMeta` applies it.
type NameRule = fn(&str) -> Result<(), String>;

/// The last key of a field path (`ports` for `spec.ports[0]`).
pub(crate) fn last_key(path: &str) -> &str {
    let path = path.trim_end_matches(|c: char| c.is_ascii_digit() || c == '[' || c == ']');
    path.rsplit('.').next().unwrap_or_default()
}

/// What to look for to find the line of a field holding `found`: a string or number is
/// looked for as written; anything else (`true`, which the file may spell `yes`; a
/// mapping) by its key.
fn found_needle(found: Option<&str>, path: &str) -> Option<String> {
    let f = found.map(|f| f.trim_matches('"'));
    let plain = f.filter(|f| {
        !f.is_empty()
            && !matches!(*f, "true" | "false" | "null" | "a list" | "a mapping")
            && f.chars().all(|c| c.is_ascii_graphic())
    });
    Some(plain.unwrap_or_else(|| last_key(path)).to_string())
}

/// A field of the wrong type found while decoding the object (see [`raw::TypeError`]).
fn type_error(m: &raw::Meta) -> Result<(), FieldError> {
    match &m.type_error {
        None => Ok(()),
        Some(e) => Err(FieldError::new(
            &e.path,
            e.message.clone(),
            found_needle(e.found.as_deref(), &e.path),
        )),
    }
}

pub(crate) fn name(m: &raw::Meta, rule: NameRule) -> Result<String, FieldError> {
    type_error(m)?;
    let name = m
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| FieldError::new("metadata.name", "is required", None))?;
    rule(&name).map_err(|e| FieldError::new("metadata.name", e, needle(&name, "name")))?;
    Ok(name)
}

/// `metadata.labels` and annotation keys, checked as the API server checks them.
pub(crate) fn labels_and_annotations(m: &raw::Meta, path: &str) -> Result<(), FieldError> {
    if let Some(l) = &m.labels {
        label_map(l, &format!("{path}.labels"))?;
    }
    if let Some(a) = &m.annotations {
        validate::annotation_keys(a).map_err(|(k, e)| {
            FieldError::new(format!("{path}.annotations"), e, needle(&k, "annotations"))
        })?;
    }
    Ok(())
}

fn label_map(l: &Labels, path: &str) -> Result<(), FieldError> {
    validate::labels(l).map_err(|(k, e)| FieldError::new(path, e, needle(&k, "labels")))
}

/// The ownerReference marked `controller: true`, when it names a kind and a name (the
/// API server allows one such reference per object).
pub(crate) fn controller(m: &raw::Meta) -> Option<Controller> {
    let refs = m.owner_references.as_ref()?.as_sequence()?;
    refs.iter().find_map(|r| {
        let text = |k: &str| r.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        if r.get("controller").and_then(|v| v.as_bool()) != Some(true) {
            return None;
        }
        Some(Controller {
            kind: text("kind")?.to_string(),
            name: text("name")?.to_string(),
        })
    })
}

pub(crate) fn meta(
    m: raw::Meta,
    name_rule: NameRule,
    default_ns: &str,
    source: Source,
) -> Result<Meta, FieldError> {
    let name = name(&m, name_rule)?;
    if let Some(ns) = m.namespace.as_deref().filter(|n| !n.is_empty()) {
        validate::dns1123_label(ns)
            .map_err(|e| FieldError::new("metadata.namespace", e, needle(ns, "namespace")))?;
    }
    labels_and_annotations(&m, "metadata")?;
    Ok(Meta {
        name,
        namespace: m
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| default_ns.to_string()),
        labels: m.labels.unwrap_or_default(),
        annotations: m.annotations.unwrap_or_default(),
        source,
    })
}

pub(crate) fn namespace(m: raw::Meta, source: Source) -> Result<Namespace, FieldError> {
    let name = name(&m, validate::dns1123_label)?;
    labels_and_annotations(&m, "metadata")?;
    let mut labels = m.labels.unwrap_or_default();
    // The API server sets this label on every namespace; selectors rely on it.
    labels.insert("kubernetes.io/metadata.name".into(), name.clone());
    Ok(Namespace {
        name,
        labels,
        annotations: m.annotations.unwrap_or_default(),
        source,
    })
}

pub(crate) fn protocol(p: Option<&str>, path: &str) -> Result<Protocol, FieldError> {
    match p {
        None => Ok(Protocol::Tcp),
        Some(s) => s
            .parse()
            .map_err(|e: String| FieldError::new(path, e, Some(s.to_string()))),
    }
}

/// An integer field: its value, or the error naming what was found instead.
pub(crate) fn integer(f: &raw::IntField, path: &str) -> Result<i64, FieldError> {
    f.get().map_err(|found| {
        FieldError::new(
            path,
            format!("expected an integer, found {found}"),
            found_needle(Some(found), path),
        )
    })
}

fn int_or_string_error(found: &str, path: &str) -> FieldError {
    FieldError::new(
        path,
        format!("expected an integer or a port name, found {found}"),
        found_needle(Some(found), path),
    )
}

pub(crate) fn port_number(n: i64, path: &str) -> Result<u16, FieldError> {
    if (1..=65535).contains(&n) {
        Ok(n as u16)
    } else {
        Err(FieldError::new(
            path,
            format!("port {n} is out of range 1-65535"),
            Some(n.to_string()),
        ))
    }
}

pub(crate) fn selector(s: &raw::Selector, path: &str) -> Result<LabelSelector, FieldError> {
    if let Some(l) = &s.match_labels {
        label_map(l, &format!("{path}.matchLabels"))?;
    }
    let mut reqs = Vec::new();
    for (i, r) in s.match_expressions.iter().flatten().enumerate() {
        let values = r.values.clone().unwrap_or_default();
        let rpath = format!("{path}.matchExpressions[{i}]");
        if !r.key.is_empty() {
            validate::qualified_name(&r.key)
                .map_err(|e| FieldError::new(format!("{rpath}.key"), e, needle(&r.key, "key")))?;
        }
        for (j, v) in values.iter().enumerate() {
            validate::label_value(v).map_err(|e| {
                FieldError::new(format!("{rpath}.values[{j}]"), e, needle(v, "values"))
            })?;
        }
        let req = Requirement::parse(&r.key, &r.operator, &values).map_err(|e| {
            FieldError::new(
                format!("{path}.matchExpressions[{i}]"),
                e,
                Some(if r.operator.is_empty() {
                    r.key.clone()
                } else {
                    r.operator.clone()
                }),
            )
        })?;
        reqs.push(req);
    }
    Ok(LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions: reqs,
    })
}

fn container_ports(spec: &raw::PodSpec, path: &str) -> Result<Vec<ContainerPort>, FieldError> {
    let mut out = Vec::new();
    for (ci, c) in spec.containers.iter().flatten().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let ppath = format!("{path}.containers[{ci}].ports[{pi}]");
            let cpath = format!("{ppath}.containerPort");
            let n = p
                .container_port
                .as_ref()
                .ok_or_else(|| FieldError::new(&cpath, "is required", None))?;
            let port = port_number(integer(n, &cpath)?, &cpath)?;
            let protocol = protocol(p.protocol.as_deref(), &format!("{ppath}.protocol"))?;
            if let Some(name) = &p.name {
                validate_port_name(name)
                    .map_err(|e| FieldError::new(format!("{ppath}.name"), e, Some(name.clone())))?;
            }
            out.push(ContainerPort {
                name: p.name.clone(),
                port,
                protocol,
            });
        }
    }
    Ok(out)
}

fn addrs(
    single: Option<&String>,
    list: Option<&Vec<raw::PodIp>>,
    path: &str,
) -> Result<Vec<IpAddr>, FieldError> {
    let mut texts: Vec<&str> = list
        .into_iter()
        .flatten()
        .filter_map(|p| p.ip.as_deref())
        .collect();
    if texts.is_empty() {
        texts.extend(single.map(String::as_str));
    }
    let mut out = Vec::new();
    for t in texts.into_iter().filter(|t| !t.is_empty()) {
        let a: IpAddr = t.parse().map_err(|_| {
            FieldError::new(path, format!("invalid IP address {t:?}"), Some(t.into()))
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

pub(crate) fn pod(doc: raw::PodDoc, default_ns: &str, source: Source) -> Result<Pod, FieldError> {
    let controller = controller(&doc.metadata);
    let meta = meta(
        doc.metadata,
        validate::dns1123_subdomain,
        default_ns,
        source,
    )?;
    let spec = doc.spec.unwrap_or_default();
    let status = doc.status.unwrap_or_default();
    let ports = container_ports(&spec, "spec")?;
    let host_network = spec.host_network.unwrap_or(false);
    let mut pod_addrs = addrs(
        status.pod_ip.as_ref(),
        status.pod_ips.as_ref(),
        "status.podIPs",
    )?;
    let host_addrs = addrs(
        status.host_ip.as_ref(),
        status.host_ips.as_ref(),
        "status.hostIPs",
    )?;
    if host_network && pod_addrs.is_empty() {
        // A hostNetwork pod's address is its node's.
        pod_addrs = host_addrs.clone();
    }
    let terminated = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
    Ok(Pod {
        meta,
        ports,
        host_network,
        node: spec.node_name.filter(|n| !n.is_empty()),
        addrs: pod_addrs,
        host_addrs,
        terminated,
        controller,
    })
}

pub(crate) fn workload(
    kind: WorkloadKind,
    meta_raw: raw::Meta,
    spec: Option<raw::WorkloadSpec>,
    spec_path: &str,
    default_ns: &str,
    source: Source,
) -> Result<Workload, FieldError> {
    let controller = controller(&meta_raw);
    let meta = meta(meta_raw, validate::dns1123_subdomain, default_ns, source)?;
    let spec = spec.unwrap_or_default();
    let template = spec.template.unwrap_or_default();
    labels_and_annotations(
        &template.metadata,
        &format!("{spec_path}.template.metadata"),
    )?;
    let template_labels = template.metadata.labels.unwrap_or_default();
    let pod_spec = template.spec.unwrap_or_default();
    let ports = container_ports(&pod_spec, &format!("{spec_path}.template.spec"))?;
    let selector = match spec.selector {
        None | Some(serde_yaml::Value::Null) => LabelSelector {
            match_labels: template_labels.clone(),
            match_expressions: vec![],
        },
        Some(v) => {
            let path = format!("{spec_path}.selector");
            if kind == WorkloadKind::ReplicationController {
                let map: Labels = serde_yaml::from_value(v)
                    .map_err(|e| FieldError::new(&path, e.to_string(), None))?;
                label_map(&map, &path)?;
                LabelSelector {
                    match_labels: map,
                    match_expressions: vec![],
                }
            } else {
                let s: raw::Selector = serde_yaml::from_value(v)
                    .map_err(|e| FieldError::new(&path, e.to_string(), None))?;
                selector(&s, &path)?
            }
        }
    };
    Ok(Workload {
        kind,
        meta,
        selector,
        template_labels,
        ports,
        host_network: pod_spec.host_network.unwrap_or(false),
        controller,
    })
}

pub(crate) fn service(
    doc: raw::ServiceDoc,
    default_ns: &str,
    source: Source,
) -> Result<Service, FieldError> {
    let meta = meta(doc.metadata, validate::dns1035_label, default_ns, source)?;
    let spec = doc.spec.unwrap_or_default();
    if let Some(sel) = &spec.selector {
        label_map(sel, "spec.selector")?;
    }
    let mut ports = Vec::new();
    let n_ports = spec.ports.as_ref().map_or(0, Vec::len);
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let path = format!("spec.ports[{i}]");
        // Names are DNS labels, and required once there is more than one port.
        match p.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => validate::dns1123_label(name)
                .map_err(|e| FieldError::new(format!("{path}.name"), e, needle(name, "name")))?,
            None if n_ports > 1 => {
                return Err(FieldError::new(
                    format!("{path}.name"),
                    "is required when a Service has more than one port",
                    None,
                ))
            }
            None => {}
        }
        let n = p
            .port
            .as_ref()
            .ok_or_else(|| FieldError::new(format!("{path}.port"), "is required", None))?;
        let port = port_number(
            integer(n, &format!("{path}.port"))?,
            &format!("{path}.port"),
        )?;
        let target = match &p.target_port {
            None => PortRef::Number(port),
            Some(raw::IntOrString::Invalid(found)) => {
                return Err(int_or_string_error(found, &format!("{path}.targetPort")))
            }
            Some(raw::IntOrString::Int(t)) => {
                PortRef::Number(port_number(*t, &format!("{path}.targetPort"))?)
            }
            Some(raw::IntOrString::Str(s)) => match s.parse::<i64>() {
                Ok(t) => PortRef::Number(port_number(t, &format!("{path}.targetPort"))?),
                Err(_) => {
                    validate_port_name(s).map_err(|e| {
                        FieldError::new(format!("{path}.targetPort"), e, Some(s.clone()))
                    })?;
                    PortRef::Name(s.clone())
                }
            },
        };
        ports.push(ServicePort {
            name: p.name.clone(),
            port,
            target,
            protocol: protocol(p.protocol.as_deref(), &format!("{path}.protocol"))?,
        });
    }
    // "None" marks a headless Service: it has no virtual address.
    let ip_texts: Vec<String> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter(|t| !t.is_empty() && t.as_str() != "None")
        .cloned()
        .collect();
    let mut cluster_ips = Vec::new();
    for t in ip_texts {
        let a: IpAddr = t.parse().map_err(|_| {
            FieldError::new(
                "spec.clusterIPs",
                format!("invalid IP address {t:?}"),
                Some(t.clone()),
            )
        })?;
        if !cluster_ips.contains(&a) {
            cluster_ips.push(a);
        }
    }
    Ok(Service {
        meta,
        selector: spec.selector.filter(|s| !s.is_empty()),
        ports,
        cluster_ips,
    })
}

fn policy_port(p: &raw::PolicyPort, path: &str) -> Result<PortSpec, FieldError> {
    let protocol = protocol(p.protocol.as_deref(), &format!("{path}.protocol"))?;
    let end_path = format!("{path}.endPort");
    let end_port = p
        .end_port
        .as_ref()
        .map(|e| integer(e, &end_path))
        .transpose()?;
    let end_needle = end_port.map(|e| e.to_string());
    match &p.port {
        None => {
            if end_port.is_some() {
                return Err(FieldError::new(
                    format!("{path}.endPort"),
                    "endPort may only be set together with a numeric port",
                    end_needle,
                ));
            }
            Ok(PortSpec::AllOf(protocol))
        }
        Some(raw::IntOrString::Int(n)) => {
            let start = port_number(*n, &format!("{path}.port"))?;
            let end = match end_port {
                None => start,
                Some(e) => {
                    let end = port_number(e, &format!("{path}.endPort"))?;
                    if end < start {
                        return Err(FieldError::new(
                            format!("{path}.endPort"),
                            format!("endPort {end} must be greater than or equal to port {start}"),
                            end_needle,
                        ));
                    }
                    end
                }
            };
            Ok(PortSpec::Range {
                protocol,
                start,
                end,
            })
        }
        Some(raw::IntOrString::Invalid(found)) => {
            Err(int_or_string_error(found, &format!("{path}.port")))
        }
        Some(raw::IntOrString::Str(name)) => {
            if end_port.is_some() {
                return Err(FieldError::new(
                    format!("{path}.endPort"),
                    format!("endPort may not be used with the named port {name:?}"),
                    end_needle,
                ));
            }
            validate_port_name(name)
                .map_err(|e| FieldError::new(format!("{path}.port"), e, Some(name.clone())))?;
            Ok(PortSpec::Named {
                protocol,
                name: name.clone(),
            })
        }
    }
}

fn peer(p: &raw::Peer, path: &str) -> Result<Peer, FieldError> {
    match (&p.ip_block, &p.namespace_selector, &p.pod_selector) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(FieldError::new(
            path,
            "a peer may not combine ipBlock with namespaceSelector or podSelector",
            Some("ipBlock".into()),
        )),
        (Some(b), None, None) => {
            let except = b.except.clone().unwrap_or_default();
            let block = IpBlock::parse(&b.cidr, &except).map_err(|e| {
                let needle = except
                    .iter()
                    .find(|x| e.contains(x.as_str()))
                    .cloned()
                    .unwrap_or_else(|| b.cidr.clone());
                FieldError::new(format!("{path}.ipBlock"), e, Some(needle))
            })?;
            Ok(Peer::Block(block))
        }
        (None, None, None) => Err(FieldError::new(
            path,
            "a peer must set podSelector, namespaceSelector or ipBlock",
            None,
        )),
        (None, ns, pod) => Ok(Peer::Selectors {
            namespace: ns
                .as_ref()
                .map(|s| selector(s, &format!("{path}.namespaceSelector")))
                .transpose()?,
            pod: pod
                .as_ref()
                .map(|s| selector(s, &format!("{path}.podSelector")))
                .transpose()?,
        }),
    }
}

fn rule(
    peers: Option<&Vec<raw::Peer>>,
    ports: Option<&Vec<raw::PolicyPort>>,
    path: &str,
    peer_field: &str,
) -> Result<Rule, FieldError> {
    let peers = peers
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| peer(p, &format!("{path}.{peer_field}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let ports = ports
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| policy_port(p, &format!("{path}.ports[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule { peers, ports })
}

pub(crate) fn policy(
    doc: raw::NetworkPolicyDoc,
    default_ns: &str,
    source: Source,
) -> Result<Policy, FieldError> {
    let meta = meta(
        doc.metadata,
        validate::dns1123_subdomain,
        default_ns,
        source,
    )?;
    let spec = doc.spec.unwrap_or_default();
    let pod_selector = match &spec.pod_selector {
        Some(s) => selector(s, "spec.podSelector")?,
        None => LabelSelector::everything(),
    };
    let ingress_rules = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            rule(
                r.from.as_ref(),
                r.ports.as_ref(),
                &format!("spec.ingress[{i}]"),
                "from",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let egress_rules = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            rule(
                r.to.as_ref(),
                r.ports.as_ref(),
                &format!("spec.egress[{i}]"),
                "to",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut declared = Vec::new();
    for (i, t) in spec.policy_types.iter().flatten().enumerate() {
        let d = match t.as_str() {
            "Ingress" => Direction::Ingress,
            "Egress" => Direction::Egress,
            other => {
                return Err(FieldError::new(
                    format!("spec.policyTypes[{i}]"),
                    format!("unknown policy type {other:?}: must be Ingress or Egress"),
                    Some(other.to_string()),
                ))
            }
        };
        if !declared.contains(&d) {
            declared.push(d);
        }
    }
    // Defaulting as the API server does it: with no policyTypes, Ingress always, and
    // Egress only when the egress list is non-empty (`egress: []` does not count).
    let (affects_ingress, affects_egress, declared_types) = if declared.is_empty() {
        (true, !egress_rules.is_empty(), None)
    } else {
        (
            declared.contains(&Direction::Ingress),
            declared.contains(&Direction::Egress),
            Some(declared),
        )
    };
    Ok(Policy {
        meta,
        pod_selector,
        declared_types,
        affects_ingress,
        affects_egress,
        ingress_rules,
        egress_rules,
        lines: Default::default(),
    })
}
