//! Endpoints by address, so that the endpoints an address set admits are found by range
//! search instead of testing every endpoint against every set (the matrix asks this for
//! every ipBlock and every tiered `networks` or `nodes` peer).

use crate::addr::{AddrSet, Family};
use crate::bitset::EndpointSet;
use crate::cluster::Cluster;
use std::net::IpAddr;

pub struct AddrIndex {
    v4: Vec<(u32, usize)>,
    v6: Vec<(u128, usize)>,
    /// Endpoints whose address is not known yet (templates, pending pods), and whether
    /// each is on the pod network (then it gets its address from `pod_networks`).
    unknown: Vec<(usize, bool)>,
    pod_networks: Vec<ipnet::IpNet>,
    len: usize,
}

impl AddrIndex {
    pub fn new(cluster: &Cluster) -> Self {
        let mut idx = AddrIndex {
            v4: Vec::new(),
            v6: Vec::new(),
            unknown: Vec::new(),
            pod_networks: cluster.pod_networks.clone(),
            len: cluster.endpoints.len(),
        };
        for e in &cluster.endpoints {
            if e.addrs.is_empty() {
                idx.unknown.push((e.id.index(), e.on_pod_network()));
            }
            for a in &e.addrs {
                match a {
                    IpAddr::V4(x) => idx.v4.push((u32::from(*x), e.id.index())),
                    IpAddr::V6(x) => idx.v6.push((u128::from(*x), e.id.index())),
                }
            }
        }
        idx.v4.sort_unstable();
        idx.v6.sort_unstable();
        idx
    }

    /// The endpoints `addrs` admits over `family`: those holding an address of the family
    /// in the set, and those whose address is not known yet when the set surely holds it:
    /// it covers the whole family (they could get any), or the pod network of the family
    /// when that is known and they are on it (see [`crate::compile::addrs_truth`]). Every endpoint's addresses count, a hostNetwork pod's
    /// (its node's) included. The set form of [`crate::compile::block_admits_endpoint`]
    /// and of [`crate::tiers::TierPeerMatch::admits`] for address peers.
    pub fn admitted(&self, addrs: &AddrSet, family: Family) -> EndpointSet {
        fn fill<T: Copy + Ord>(sorted: &[(T, usize)], ranges: &[(T, T)], out: &mut EndpointSet) {
            for &(lo, hi) in ranges {
                let start = sorted.partition_point(|(a, _)| *a < lo);
                for &(a, i) in &sorted[start..] {
                    if a > hi {
                        break;
                    }
                    out.insert(i);
                }
            }
        }
        let mut s = EndpointSet::empty(self.len);
        match family {
            Family::V4 => fill(&self.v4, addrs.v4.ranges(), &mut s),
            Family::V6 => fill(&self.v6, addrs.v6.ranges(), &mut s),
        }
        let nets = crate::compile::pod_networks_of(&self.pod_networks, family);
        let covers_pods = !nets.is_empty() && nets.iter().all(|n| addrs.contains_net(n));
        for &(i, on_pod_network) in &self.unknown {
            if addrs.covers_family(family) || (on_pod_network && covers_pods) {
                s.insert(i);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::IpBlock;
    use crate::compile::block_admits_endpoint;

    #[test]
    fn admits_what_block_admits_endpoint_admits() {
        let text = "\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default}
status: {phase: Running, podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: default}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: default}
spec: {hostNetwork: true, nodeName: n1}
status: {phase: Running, podIP: 192.168.0.1, hostIP: 192.168.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: default}
status: {phase: Running, podIP: 10.0.1.7}
";
        let model = crate::compile_text("t.yaml", text, "default").unwrap();
        let idx = AddrIndex::new(&model.cluster);
        for (cidr, except) in [
            ("10.0.0.0/24", vec![]),
            ("10.0.0.0/16", vec!["10.0.1.0/24".to_string()]),
            ("0.0.0.0/0", vec![]),
            ("0.0.0.0/0", vec!["10.0.0.1/32".to_string()]),
            ("192.168.0.1/32", vec![]),
            ("::/0", vec![]),
            ("fd00::/64", vec![]),
        ] {
            let block = IpBlock::parse(cidr, &except).unwrap();
            for family in Family::ALL {
                let set = idx.admitted(&block.addrs, family);
                for e in &model.cluster.endpoints {
                    assert_eq!(
                        set.contains(e.id.index()),
                        block_admits_endpoint(&block, e, family),
                        "{cidr} {except:?} {family} {}",
                        e.name
                    );
                }
            }
        }
    }
}
