//! The lines of a NetworkPolicy's fields that lint points at (selectors, peers, ports,
//! CIDRs, policyTypes, rules), so a finding names the line of the field at fault rather
//! than the object's first line. Kept compact (a u32 per field, 0 when the text does not
//! show it, as for a field brought in by a merge key or an object read from the API
//! server): a cluster may hold many policies.

use crate::objects::{Direction, Peer, Policy};

/// A field of a NetworkPolicy, by the indexes of its rule, peer, port or except entry
/// (as `Policy::rules` counts them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyField {
    PodSelector,
    PolicyTypes,
    Rule(Direction, usize),
    Peer(Direction, usize, usize),
    PeerPodSelector(Direction, usize, usize),
    PeerNamespaceSelector(Direction, usize, usize),
    Cidr(Direction, usize, usize),
    Except(Direction, usize, usize, usize),
    Port(Direction, usize, usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerLines {
    pub peer: u32,
    pub pod_selector: u32,
    pub namespace_selector: u32,
    pub cidr: u32,
    pub except: Vec<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleLines {
    pub rule: u32,
    pub peers: Vec<PeerLines>,
    pub ports: Vec<u32>,
}

/// 1-based lines of the file; 0 where unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyLines {
    pub pod_selector: u32,
    pub policy_types: u32,
    pub ingress: Vec<RuleLines>,
    pub egress: Vec<RuleLines>,
}

fn known(line: u32) -> Option<usize> {
    (line != 0).then_some(line as usize)
}

impl PolicyLines {
    /// Reads the lines of `policy`'s fields with `line_at`, which gives the line of a
    /// field by its path from the object's root (`spec.ingress[0].from[1].podSelector`),
    /// 0 when the text does not show it.
    pub fn read(policy: &Policy, line_at: impl Fn(&str) -> u32) -> PolicyLines {
        let rules = |d: Direction, rules: &[crate::objects::Rule]| -> Vec<RuleLines> {
            let (list, peers_field) = match d {
                Direction::Ingress => ("spec.ingress", "from"),
                Direction::Egress => ("spec.egress", "to"),
            };
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let rule = format!("{list}[{i}]");
                    let peers = r
                        .peers
                        .iter()
                        .enumerate()
                        .map(|(j, p)| {
                            let peer = format!("{rule}.{peers_field}[{j}]");
                            let field = |f: &str| line_at(&format!("{peer}.{f}"));
                            let except = match p {
                                Peer::Block(b) => (0..b.except.len())
                                    .map(|k| field(&format!("ipBlock.except[{k}]")))
                                    .collect(),
                                Peer::Selectors { .. } => Vec::new(),
                            };
                            PeerLines {
                                peer: line_at(&peer),
                                pod_selector: field("podSelector"),
                                namespace_selector: field("namespaceSelector"),
                                cidr: field("ipBlock.cidr"),
                                except,
                            }
                        })
                        .collect();
                    let ports = (0..r.ports.len())
                        .map(|k| line_at(&format!("{rule}.ports[{k}]")))
                        .collect();
                    RuleLines {
                        rule: line_at(&rule),
                        peers,
                        ports,
                    }
                })
                .collect()
        };
        PolicyLines {
            pod_selector: line_at("spec.podSelector"),
            policy_types: line_at("spec.policyTypes"),
            ingress: rules(Direction::Ingress, &policy.ingress_rules),
            egress: rules(Direction::Egress, &policy.egress_rules),
        }
    }

    fn rule(&self, d: Direction, r: usize) -> Option<&RuleLines> {
        match d {
            Direction::Ingress => self.ingress.get(r),
            Direction::Egress => self.egress.get(r),
        }
    }

    /// The line of `field`, else of the nearest field around it that the text shows
    /// (a peer's selector brought in by a merge key is placed at its peer); None when
    /// not even its rule is known.
    pub fn line(&self, field: PolicyField) -> Option<usize> {
        use PolicyField::*;
        let rule_line = |d, r| self.rule(d, r).and_then(|x| known(x.rule));
        let peer = |d, r, p| self.rule(d, r).and_then(|x: &RuleLines| x.peers.get(p));
        let peer_line = |d, r, p| {
            peer(d, r, p)
                .and_then(|x: &PeerLines| known(x.peer))
                .or(rule_line(d, r))
        };
        match field {
            PodSelector => known(self.pod_selector),
            PolicyTypes => known(self.policy_types),
            Rule(d, r) => rule_line(d, r),
            Peer(d, r, p) => peer_line(d, r, p),
            PeerPodSelector(d, r, p) => peer(d, r, p)
                .and_then(|x| known(x.pod_selector))
                .or(peer_line(d, r, p)),
            PeerNamespaceSelector(d, r, p) => peer(d, r, p)
                .and_then(|x| known(x.namespace_selector))
                .or(peer_line(d, r, p)),
            Cidr(d, r, p) => peer(d, r, p)
                .and_then(|x| known(x.cidr))
                .or(peer_line(d, r, p)),
            Except(d, r, p, k) => peer(d, r, p)
                .and_then(|x| x.except.get(k).copied().and_then(known))
                .or(peer_line(d, r, p)),
            Port(d, r, k) => self
                .rule(d, r)
                .and_then(|x| x.ports.get(k).copied().and_then(known))
                .or(rule_line(d, r)),
        }
    }
}
