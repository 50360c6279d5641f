//! What the manifests do not show, as the decision names it: the facts whose absence
//! makes an element's match unknown, with the ports that hang on them.

use crate::ports::PortSet;
use ipnet::IpNet;
use std::fmt;

/// One fact the input does not show.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnknownFact {
    /// A namespace that is only referenced (no Namespace object): whether a selector on
    /// its labels matches it depends on labels that are not known.
    NamespaceLabels {
        namespace: String,
        /// `namespaceSelector team=ops`, `subject namespaces team=ops`, ...
        selector: String,
        /// The policy the selector belongs to (`shop/allow-monitoring`, `cnp/x`).
        policy: String,
    },
    /// An endpoint without a known address (a workload template, a stand-in) against
    /// addresses: it could get one inside them or not.
    Address {
        endpoint: String,
        /// `ipBlock 10.0.0.0/8`, `networks 10.0.0.0/8`, `nodes role=x`.
        peer: String,
        policy: String,
        /// The pod network of that family, when known (it only partly overlaps).
        pod_networks: Vec<IpNet>,
    },
}

impl fmt::Display for UnknownFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownFact::NamespaceLabels {
                namespace,
                selector,
                policy,
            } => write!(
                f,
                "namespace {namespace} is not in the input, so whether its labels match \
                 {selector} of {policy} is unknown; add the Namespace object"
            ),
            UnknownFact::Address {
                endpoint,
                peer,
                policy,
                pod_networks,
            } if pod_networks.is_empty() => write!(
                f,
                "{endpoint} has no known address, so whether it is in {peer} of {policy} \
                 is unknown; give the pod network (--pod-cidr)"
            ),
            UnknownFact::Address {
                endpoint,
                peer,
                policy,
                pod_networks,
            } => {
                let nets: Vec<String> = pod_networks.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{endpoint} has no known address and the pod network {} is only partly \
                     in {peer} of {policy}, so whether its address is in it is unknown",
                    nets.join(", ")
                )
            }
        }
    }
}

/// A fact and the ports whose outcome hangs on it (in one direction of one connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub fact: UnknownFact,
    pub ports: PortSet,
}

/// Adds `fact` for `ports` (merging the ports of a fact already there); nothing when
/// `ports` is empty.
pub fn record(out: &mut Vec<Unknown>, fact: UnknownFact, ports: &PortSet) {
    if ports.is_empty() {
        return;
    }
    match out.iter_mut().find(|u| u.fact == fact) {
        Some(u) => u.ports.add(ports),
        None => out.push(Unknown {
            fact,
            ports: ports.clone(),
        }),
    }
}
