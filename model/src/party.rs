//! The two ends of a connection as NetworkPolicy sees them: a pod (or a workload's
//! template), or addresses that are no pod's.

use crate::addr::Family;
use crate::cluster::{Cluster, EndpointId};
use ipnet::IpNet;
use std::net::IpAddr;

/// One end of a flow: a pod (or workload template), or addresses outside the cluster.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Party {
    Endpoint(EndpointId),
    External(IpNet),
}

impl Party {
    pub fn endpoint(self) -> Option<EndpointId> {
        match self {
            Party::Endpoint(e) => Some(e),
            Party::External(_) => None,
        }
    }

    /// The end a packet's address stands for: the pod holding it (hostNetwork pods
    /// hold none: they are their node), else that address outside the cluster.
    pub fn of_addr(cluster: &Cluster, addr: IpAddr) -> Party {
        match cluster.endpoint_by_addr(&addr) {
            Some(e) => Party::Endpoint(e),
            None => Party::External(addr.into()),
        }
    }

    /// The address families this end speaks; None when it could speak any (a pod
    /// whose address is not known yet).
    pub fn families(self, cluster: &Cluster) -> Option<Vec<Family>> {
        match self {
            Party::Endpoint(e) => cluster.endpoint(e).families(),
            Party::External(net) => Some(vec![Family::of_net(&net)]),
        }
    }

    pub fn name(self, cluster: &Cluster) -> String {
        match self {
            Party::Endpoint(e) => cluster.endpoint_name(e),
            Party::External(net) if net.prefix_len() == net.max_prefix_len() => {
                net.addr().to_string()
            }
            Party::External(net) => net.to_string(),
        }
    }
}
