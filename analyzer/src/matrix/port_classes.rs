//! The port space cut into classes the model decides alike: per protocol, the
//! elementary intervals of every port range a NetworkPolicy or tiered rule names and of
//! every named container port (where named ports resolve), grouped by which of those
//! they fall in. Every port of a class gets the same decision for every pair, so one
//! probe port per class answers the whole class.

use netfence_model::objects::PortSpec;
use netfence_model::tier::TierPort;
use netfence_model::{Model, Protocol};
use std::collections::{BTreeSet, HashMap};

/// Ports of one protocol that every policy treats alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortClass {
    pub protocol: Protocol,
    /// Sorted, disjoint inclusive ranges.
    pub ranges: Vec<(u16, u16)>,
}

impl PortClass {
    /// The port the class is decided on.
    pub fn probe(&self) -> u16 {
        self.ranges[0].0
    }
}

/// What decides a port: the ranges that hold it, and the port itself when a named
/// container port may resolve to it (named ports resolve per destination).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Signature {
    ranges: Vec<usize>,
    named_point: Option<u16>,
}

/// The classes of the model's port space, per protocol in order TCP, UDP, SCTP.
pub fn port_classes(model: &Model) -> Vec<PortClass> {
    let mut out = Vec::new();
    for protocol in Protocol::ALL {
        out.extend(classes_of(
            protocol,
            &ranges_named(model, protocol),
            &named_points(model, protocol),
        ));
    }
    out
}

/// Every numeric range (a single port is a range) of `protocol` in the policies.
fn ranges_named(model: &Model, protocol: Protocol) -> Vec<(u16, u16)> {
    let mut set = BTreeSet::new();
    for u in &model.unions {
        for a in &u.allows {
            for spec in &a.ports {
                if let PortSpec::Range {
                    protocol: p,
                    start,
                    end,
                } = spec
                {
                    if *p == protocol {
                        set.insert((*start, *end));
                    }
                }
            }
        }
    }
    for stack in &model.tiers.stacks {
        for el in &stack.elements {
            for p in el.ports.iter().flatten() {
                if let TierPort::Range {
                    protocol: p,
                    start,
                    end,
                } = p
                {
                    if *p == protocol {
                        set.insert((*start, *end));
                    }
                }
            }
        }
    }
    set.into_iter().collect()
}

/// Every port a named container port of `protocol` has on some endpoint.
fn named_points(model: &Model, protocol: Protocol) -> BTreeSet<u16> {
    model
        .cluster
        .endpoints
        .iter()
        .flat_map(|e| e.ports.iter())
        .filter(|p| p.name.is_some() && p.protocol == protocol)
        .map(|p| p.port)
        .collect()
}

fn classes_of(protocol: Protocol, ranges: &[(u16, u16)], points: &BTreeSet<u16>) -> Vec<PortClass> {
    // Interval starts: 0, each range's start and end + 1, each point and point + 1.
    let mut cuts: BTreeSet<u32> = BTreeSet::from([0]);
    for &(s, e) in ranges {
        cuts.insert(u32::from(s));
        cuts.insert(u32::from(e) + 1);
    }
    for &p in points {
        cuts.insert(u32::from(p));
        cuts.insert(u32::from(p) + 1);
    }
    cuts.insert(65536);
    let cuts: Vec<u32> = cuts.into_iter().collect();
    let mut index: HashMap<Signature, usize> = HashMap::new();
    let mut classes: Vec<PortClass> = Vec::new();
    for w in cuts.windows(2) {
        let (start, end) = (w[0] as u16, (w[1] - 1) as u16);
        let sig = Signature {
            ranges: (0..ranges.len())
                .filter(|&i| ranges[i].0 <= start && end <= ranges[i].1)
                .collect(),
            named_point: (start == end && points.contains(&start)).then_some(start),
        };
        let next = classes.len();
        let c = *index.entry(sig).or_insert(next);
        if c == next {
            classes.push(PortClass {
                protocol,
                ranges: Vec::new(),
            });
        }
        let ranges = &mut classes[c].ranges;
        // Adjacent intervals of one class merge.
        match ranges.last_mut() {
            Some(last) if u32::from(last.1) + 1 == u32::from(start) => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_split_at_every_range_and_point() {
        let points = BTreeSet::from([8080]);
        let c = classes_of(Protocol::Tcp, &[(80, 80), (8000, 9000)], &points);
        let show: Vec<Vec<(u16, u16)>> = c.iter().map(|c| c.ranges.clone()).collect();
        assert_eq!(
            show,
            vec![
                vec![(0, 79), (81, 7999), (9001, 65535)],
                vec![(80, 80)],
                vec![(8000, 8079), (8081, 9000)],
                vec![(8080, 8080)],
            ]
        );
    }

    #[test]
    fn no_policy_port_is_one_class() {
        let c = classes_of(Protocol::Udp, &[], &BTreeSet::new());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].ranges, vec![(0, 65535)]);
    }
}
