//! Exposure of a workload, direction by direction: whether the policies isolating it
//! still allow everything (every pod and every address outside, on every port), and
//! which addresses outside the cluster it can be reached from or reach. Every answer is
//! `Model::decide` asked for a pod and a party; the outside is the model's address
//! classes (`netfence_model::outside`), one representative address each.

use netfence_model::objects::Direction;
use netfence_model::outside::{outside_classes, OutsideClass};
use netfence_model::{EndpointId, Model, Party, PortSet};

/// One direction of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionExposure {
    /// Some pod is isolated for this direction, and every isolated pod's policies let
    /// every peer through on every port: isolated, but not restricted.
    pub allows_all: bool,
    /// The outside classes some pod may talk with in this direction, with the ports
    /// (the union over the pods).
    pub outside: Vec<(OutsideClass, PortSet)>,
    /// Every outside class of the families the pods speak is there, on every port.
    pub outside_any: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    pub ingress: DirectionExposure,
    pub egress: DirectionExposure,
}

/// The outside classes of a model, computed once for all its workloads.
pub struct ExposureIndex<'m> {
    model: &'m Model,
    classes: Vec<OutsideClass>,
}

impl<'m> ExposureIndex<'m> {
    pub fn new(model: &'m Model) -> Self {
        ExposureIndex {
            model,
            classes: outside_classes(&[model]),
        }
    }

    /// The exposure of a workload's pods (or one standalone pod).
    pub fn of(&self, members: &[EndpointId]) -> Exposure {
        Exposure {
            ingress: self.direction(members, Direction::Ingress),
            egress: self.direction(members, Direction::Egress),
        }
    }

    fn direction(&self, members: &[EndpointId], d: Direction) -> DirectionExposure {
        let model = self.model;
        let mut isolated = 0;
        let mut all_open = true;
        let mut ports: Vec<PortSet> = vec![PortSet::empty(); self.classes.len()];
        let mut spoken = vec![false; self.classes.len()];
        for &e in members {
            let is_isolated = model.subject_isolation(e, d).union().is_some()
                && model.cluster.endpoint(e).on_pod_network();
            if is_isolated {
                isolated += 1;
                all_open &= self.lets_everything_through(e, d);
            }
            for (i, c) in self.classes.iter().enumerate() {
                let family = c.family();
                if !model.cluster.endpoint(e).speaks(family) {
                    continue;
                }
                spoken[i] = true;
                let other = Party::External(c.party_net());
                let allowed = model.decide(Party::Endpoint(e), d, other, family).allowed;
                ports[i].add(&allowed);
            }
        }
        let outside_any =
            spoken.iter().any(|s| *s) && ports.iter().zip(&spoken).all(|(p, s)| !*s || p.is_all());
        DirectionExposure {
            allows_all: isolated > 0 && all_open,
            outside: self
                .classes
                .iter()
                .zip(ports)
                .filter(|(_, p)| !p.is_empty())
                .map(|(c, p)| (c.clone(), p))
                .collect(),
            outside_any,
        }
    }

    /// Every peer (each other endpoint, each outside class) on every port, over every
    /// family both ends speak.
    fn lets_everything_through(&self, e: EndpointId, d: Direction) -> bool {
        let model = self.model;
        let subject = Party::Endpoint(e);
        let outside = self
            .classes
            .iter()
            .filter(|c| model.cluster.endpoint(e).speaks(c.family()))
            .map(|c| (Party::External(c.party_net()), vec![c.family()]));
        let pods = model
            .cluster
            .endpoints
            .iter()
            .filter(|o| o.id != e)
            .map(|o| {
                let p = Party::Endpoint(o.id);
                (p, model.shared_families(subject, p))
            });
        outside.chain(pods).all(|(other, families)| {
            families
                .into_iter()
                .all(|f| model.decide(subject, d, other, f).allowed.is_all())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netfence_model::{parse_manifest, Cluster};

    fn model(yaml: &str) -> Model {
        let parsed = parse_manifest("t.yaml", yaml, "default");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        Model::compile(Cluster::build(parsed.objects))
    }

    const PODS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, labels: {app: b}}
spec: {containers: [{name: c, image: x}]}
";

    fn exposure_of_a(policies: &str) -> Exposure {
        let m = model(&format!("{PODS}---\n{policies}"));
        let a = m.cluster.endpoint_by_key("default/a").unwrap();
        ExposureIndex::new(&m).of(&[a])
    }

    #[test]
    fn an_empty_rule_isolates_but_allows_all() {
        let x = exposure_of_a(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n\
             spec: {podSelector: {matchLabels: {app: a}}, ingress: [{}]}\n",
        );
        assert!(x.ingress.allows_all);
        assert!(x.ingress.outside_any);
        // Egress is not isolated: open, which is not "allows all".
        assert!(!x.egress.allows_all);
        assert!(x.egress.outside_any);
    }

    #[test]
    fn all_namespaces_without_the_outside_is_restricted() {
        let x = exposure_of_a(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n\
             spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}\n",
        );
        assert!(!x.ingress.allows_all);
        assert!(x.ingress.outside.is_empty());
        assert!(!x.ingress.outside_any);
    }

    #[test]
    fn pods_and_every_address_on_every_port_allows_all() {
        let x = exposure_of_a(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n\
             spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    \
             - namespaceSelector: {}\n    - ipBlock: {cidr: 0.0.0.0/0}\n",
        );
        assert!(x.egress.allows_all);
    }

    #[test]
    fn an_ip_block_opens_its_class_on_its_ports() {
        let x = exposure_of_a(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n\
             spec:\n  podSelector: {}\n  ingress:\n  - from:\n    \
             - ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}\n    \
             ports: [{port: 443}]\n",
        );
        assert!(!x.ingress.allows_all);
        let shown: Vec<String> = x
            .ingress
            .outside
            .iter()
            .map(|(c, p)| format!("{c}: {p}"))
            .collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].starts_with("203.0.113.0/24 except 203.0.113.128/25: "));
        assert!(shown[0].contains("443"), "{shown:?}");
    }
}
