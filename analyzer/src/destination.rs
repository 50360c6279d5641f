//! What a destination and port a user names mean as flows: a port name resolves on the
//! destination pod, and a Service means each backend on the target port of each
//! matching Service port (policies see target ports, after kube-proxy's DNAT).

use crate::reach::Flow;
use netfence_model::objects::Service;
use netfence_model::ports::PortRef;
use netfence_model::{Model, Party, Protocol};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DestinationError {
    #[error("a named port ({0}) needs a pod or workload destination")]
    NamedPortOutsideCluster(String),
    #[error("{pod} has no {protocol} container port named {name}")]
    NoNamedPort {
        pod: String,
        protocol: Protocol,
        name: String,
    },
    #[error("{service} has no port {port}")]
    NoServicePort { service: String, port: PortRef },
    #[error("{0} has no ports")]
    NoServicePorts(String),
}

/// The protocol a named port resolves to on the destination, when the user gave none:
/// TCP if the pod names a TCP port so, else the protocol of the one it names.
pub fn named_protocol(model: &Model, dst: Party, port: Option<&PortRef>) -> Option<Protocol> {
    let (Some(PortRef::Name(name)), Party::Endpoint(e)) = (port, dst) else {
        return None;
    };
    let protos: Vec<Protocol> = model
        .cluster
        .endpoint(e)
        .named_ports(name)
        .map(|p| p.protocol)
        .collect();
    if protos.contains(&Protocol::Tcp) {
        Some(Protocol::Tcp)
    } else {
        protos.first().copied()
    }
}

/// A port number for a flow to `dst`: numbers as given, names resolved on the
/// destination pod's container ports.
pub fn destination_port(
    model: &Model,
    dst: Party,
    port: Option<&PortRef>,
    protocol: Option<Protocol>,
) -> Result<Option<u16>, DestinationError> {
    match port {
        None => Ok(None),
        Some(PortRef::Number(n)) => Ok(Some(*n)),
        Some(PortRef::Name(name)) => {
            let Party::Endpoint(e) = dst else {
                return Err(DestinationError::NamedPortOutsideCluster(name.clone()));
            };
            let proto = protocol
                .or_else(|| named_protocol(model, dst, port))
                .unwrap_or(Protocol::Tcp);
            model
                .cluster
                .endpoint(e)
                .named_port(name, proto)
                .map(Some)
                .ok_or_else(|| DestinationError::NoNamedPort {
                    pod: model.cluster.endpoint_name(e),
                    protocol: proto,
                    name: name.clone(),
                })
        }
    }
}

/// One backend of a Service on one of its ports, as the flow policies see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFlow {
    /// None when the Service selects no pod at all.
    pub backend: Option<Party>,
    /// `ns/svc/name:port` (or `ns/svc/name` when there is no backend or no target).
    pub service: String,
    /// None when this backend does not serve the port (see `note`).
    pub flow: Option<Flow>,
    pub note: Option<String>,
}

/// The flows from `src` to a Service: each backend, on the target port of each Service
/// port matching `port` (all when None) and `base.protocol`. A backend without the named
/// target port is not an endpoint of that Service port.
pub fn service_flows(
    model: &Model,
    src: Party,
    svc: &Service,
    port: Option<&PortRef>,
    base: Flow,
) -> Result<Vec<ServiceFlow>, DestinationError> {
    let svc_name = format!("{}/svc/{}", svc.meta.namespace, svc.meta.name);
    let ports: Vec<_> = svc
        .ports
        .iter()
        .filter(|p| match port {
            None => true,
            Some(PortRef::Number(n)) => p.port == *n,
            Some(PortRef::Name(name)) => p.name.as_deref() == Some(name.as_str()),
        })
        .filter(|p| base.protocol.is_none_or(|proto| proto == p.protocol))
        .collect();
    if ports.is_empty() {
        return Err(match port {
            Some(p) => DestinationError::NoServicePort {
                service: svc_name,
                port: p.clone(),
            },
            None => DestinationError::NoServicePorts(svc_name),
        });
    }
    let backends = model.cluster.service_backends(svc);
    let mut out = Vec::new();
    if backends.is_empty() {
        out.push(ServiceFlow {
            backend: None,
            service: svc_name.clone(),
            flow: None,
            note: Some(format!("{svc_name} selects no pods: nothing can reach it")),
        });
    }
    for b in backends {
        let backend = model.cluster.endpoint(b);
        for sp in &ports {
            let dst = Party::Endpoint(b);
            let Some(target) = sp.target_port_on(backend) else {
                out.push(ServiceFlow {
                    backend: Some(dst),
                    service: svc_name.clone(),
                    flow: None,
                    note: Some(format!(
                        "{} has no {} container port named {}, so it does not serve port {} of {svc_name}",
                        model.cluster.endpoint_name(b),
                        sp.protocol,
                        sp.target,
                        sp.port
                    )),
                });
                continue;
            };
            out.push(ServiceFlow {
                backend: Some(dst),
                service: format!("{svc_name}:{}", sp.port),
                flow: Some(Flow {
                    from: src,
                    to: dst,
                    port: Some(target),
                    protocol: Some(sp.protocol),
                    ..base
                }),
                note: None,
            });
        }
    }
    Ok(out)
}
