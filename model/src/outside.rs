//! The outside of the cluster as the policies see it: the classes of addresses that no
//! policy tells apart. Every CIDR the policies write (ipBlock `cidr` and `except`,
//! tiered `networks`) and the whole of each family cut the address space into classes;
//! inside one class every ipBlock and every `networks` peer matches all addresses or
//! none, so one address stands for the class in any decision.
//!
//! Coverage (who is reachable from outside) and diff (flows to and from outside) ask a
//! class's representative instead of guessing addresses.

use crate::addr::{AddrSet, Family};
use crate::compile::{Model, PeerMatch};
use crate::tier::TierPeer;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

/// Addresses outside the cluster that every policy treats alike: `cidr` minus the
/// written CIDRs strictly inside it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutsideClass {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
    /// An address of the class that is not a pod's or a node's: it decides for all.
    pub representative: IpAddr,
}

impl OutsideClass {
    pub fn family(&self) -> Family {
        Family::of_net(&self.cidr)
    }

    /// The representative as a host network, the form a `Party::External` takes.
    pub fn party_net(&self) -> IpNet {
        IpNet::from(self.representative)
    }
}

impl fmt::Display for OutsideClass {
    /// `203.0.113.0/24`, or `0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cidr)?;
        if !self.except.is_empty() {
            let parts: Vec<String> = self.except.iter().map(ToString::to_string).collect();
            write!(f, " except {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Every CIDR the model's policies write, masked.
fn written_cidrs(model: &Model, out: &mut BTreeSet<IpNet>) {
    for p in &model.peers {
        if let PeerMatch::Addrs(b) = p {
            out.insert(b.cidr.trunc());
            out.extend(b.except.iter().map(IpNet::trunc));
        }
    }
    for p in &model.cluster.tier_policies {
        for rule in p.ingress.iter().chain(&p.egress) {
            for peer in &rule.peers {
                if let TierPeer::Networks(nets) = peer {
                    out.extend(nets.iter().map(IpNet::trunc));
                }
            }
        }
    }
}

/// Addresses of the cluster's own parties (pods, their nodes): never outside.
fn cluster_addrs(model: &Model, out: &mut AddrSet) {
    for e in &model.cluster.endpoints {
        for a in e.addrs.iter().chain(&e.host_addrs) {
            match a {
                IpAddr::V4(a) => out.v4.insert_range(u32::from(*a), u32::from(*a)),
                IpAddr::V6(a) => out.v6.insert_range(u128::from(*a), u128::from(*a)),
            }
        }
    }
}

/// The first address of `set` in `family`.
fn first_addr(set: &AddrSet, family: Family) -> Option<IpAddr> {
    match family {
        Family::V4 => set.v4_ranges().next().map(|(a, _)| IpAddr::V4(a)),
        Family::V6 => set.v6_ranges().next().map(|(a, _)| IpAddr::V6(a)),
    }
}

/// The outside classes of one or more models (a diff compares two versions over the
/// same classes), sorted by family and address. IPv6 appears only when a policy writes
/// an IPv6 CIDR or a model's endpoints speak IPv6.
pub fn outside_classes(models: &[&Model]) -> Vec<OutsideClass> {
    let mut written = BTreeSet::new();
    let mut taken = AddrSet::empty();
    let mut v6 = false;
    for m in models {
        written_cidrs(m, &mut written);
        cluster_addrs(m, &mut taken);
        v6 |= m.families_in_use().contains(&Family::V6);
    }
    written.insert(IpNet::V4(Ipv4Net::default()));
    if v6 || written.iter().any(|n| matches!(n, IpNet::V6(_))) {
        written.insert(IpNet::V6(Ipv6Net::default()));
    }
    let mut out = Vec::new();
    for &cidr in &written {
        // The written CIDRs strictly inside this one, keeping only the outermost (CIDRs
        // nest or are disjoint, so these cover exactly what belongs to other classes).
        let inner: Vec<IpNet> = written
            .iter()
            .filter(|n| **n != cidr && cidr.contains(*n))
            .copied()
            .collect();
        let except: Vec<IpNet> = inner
            .iter()
            .filter(|n| !inner.iter().any(|o| o != *n && o.contains(*n)))
            .copied()
            .collect();
        let mut addrs = AddrSet::from_net(&cidr);
        for e in &except {
            addrs = addrs.difference(&AddrSet::from_net(e));
        }
        let free = addrs.difference(&taken);
        if let Some(representative) = first_addr(&free, Family::of_net(&cidr)) {
            out.push(OutsideClass {
                cidr,
                except,
                representative,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::manifest::parse_manifest;

    fn model(yaml: &str) -> Model {
        let parsed = parse_manifest("t.yaml", yaml, "default");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        Model::compile(Cluster::build(parsed.objects))
    }

    const POLICY: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default, labels: {app: a}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.1.0.5, hostIP: 192.168.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    - ipBlock: {cidr: 203.0.113.0/24}
";

    #[test]
    fn written_cidrs_cut_the_outside_into_classes() {
        let m = model(POLICY);
        let classes = outside_classes(&[&m]);
        let shown: Vec<String> = classes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "0.0.0.0/0 except 10.0.0.0/8, 203.0.113.0/24",
                "10.0.0.0/8 except 10.1.0.0/16",
                "10.1.0.0/16",
                "203.0.113.0/24",
            ]
        );
        // The pod's own address is never a class's representative.
        let c = classes.iter().find(|c| c.cidr.to_string() == "10.1.0.0/16");
        assert_eq!(c.unwrap().representative.to_string(), "10.1.0.0");
        for c in &classes {
            assert_ne!(c.representative.to_string(), "10.1.0.5");
            assert!(c.cidr.contains(&c.representative));
            assert!(!c.except.iter().any(|e| e.contains(&c.representative)));
        }
    }

    #[test]
    fn a_representative_skips_the_cluster_addresses() {
        let m = model(&POLICY.replace("10.1.0.5", "10.1.0.0"));
        let classes = outside_classes(&[&m]);
        let c = classes
            .iter()
            .find(|c| c.cidr.to_string() == "10.1.0.0/16")
            .unwrap();
        assert_eq!(c.representative.to_string(), "10.1.0.1");
    }

    #[test]
    fn without_policies_the_outside_is_one_class_per_family_in_use() {
        let m = model(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n",
        );
        let shown: Vec<String> = outside_classes(&[&m])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["0.0.0.0/0"]);
    }
}
