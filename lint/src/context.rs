//! What every check needs, computed once: the pods each policy selects, the pod and
//! Service networks, and a way to emit findings that names the object and its line.

use crate::catalogue::{self, Check};
use crate::config::LintConfig;
use crate::finding::{Finding, Subject};
use netfence_model::cluster::EndpointKind;
use netfence_model::compile::PeerMatch;
use netfence_model::field_lines::PolicyField;
use netfence_model::intervals::Intervals;
use netfence_model::objects::{Direction, Peer};
use netfence_model::{AddrSet, EndpointSet, Model, PolicyId, Rule, Source};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The annotation that suppresses findings on the object carrying it.
pub const IGNORE_ANNOTATION: &str = "netfence.io/lint-ignore";

/// One rule that takes effect (rules of a direction not in policyTypes are not here).
#[derive(Clone, Copy)]
pub struct RuleRef<'m> {
    pub policy: PolicyId,
    pub direction: Direction,
    pub index: usize,
    pub rule: &'m Rule,
}

/// `ingress[0]`, `egress[1].to[2]`.
pub fn rule_path(direction: Direction, rule: usize, peer: Option<usize>) -> String {
    let field = match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    match peer {
        Some(p) => format!("{direction}[{rule}].{field}[{p}]"),
        None => format!("{direction}[{rule}]"),
    }
}

/// The set of the given addresses, built in one pass.
fn addr_set<'a>(addrs: impl Iterator<Item = &'a IpAddr>) -> AddrSet {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for a in addrs {
        match a {
            IpAddr::V4(x) => v4.push((u32::from(*x), u32::from(*x))),
            IpAddr::V6(x) => v6.push((u128::from(*x), u128::from(*x))),
        }
    }
    AddrSet {
        v4: Intervals::from_ranges(v4),
        v6: Intervals::from_ranges(v6),
    }
}

pub fn is_subset(small: &EndpointSet, big: &EndpointSet) -> bool {
    small
        .words()
        .iter()
        .zip(big.words())
        .all(|(a, b)| a & !b == 0)
}

pub struct Context<'m> {
    pub model: &'m Model,
    pub config: &'m LintConfig,
    /// The endpoints each policy's podSelector selects (by policy id).
    pub selected: Vec<EndpointSet>,
    /// Endpoints per namespace.
    pub ns_endpoints: Vec<usize>,
    /// Addresses pods have or may get: pod addresses of the input and the configured
    /// pod networks.
    pub pod_network: AddrSet,
    /// Service addresses: clusterIPs of the input and the configured Service networks.
    pub service_network: AddrSet,
}

impl<'m> Context<'m> {
    pub fn new(model: &'m Model, config: &'m LintConfig) -> Self {
        let cluster = &model.cluster;
        let n = cluster.endpoints.len();
        let mut selected = vec![EndpointSet::empty(n); cluster.policies.len()];
        for u in &model.unions {
            for p in &u.policies {
                for m in &u.members {
                    selected[p.index()].insert(m.index());
                }
            }
        }
        let mut ns_endpoints = vec![0; cluster.namespaces.len()];
        for e in &cluster.endpoints {
            ns_endpoints[e.namespace.index()] += 1;
        }
        let pod_addrs = cluster
            .endpoints
            .iter()
            .filter(|e| e.on_pod_network())
            .flat_map(|e| e.addrs.iter());
        let pod_network = config.pod_networks.union(&addr_set(pod_addrs));
        let service_addrs = cluster.services.iter().flat_map(|s| s.cluster_ips.iter());
        let service_network = config.service_networks.union(&addr_set(service_addrs));
        Context {
            model,
            config,
            selected,
            ns_endpoints,
            pod_network,
            service_network,
        }
    }

    /// Does the input hold any pod or workload? Checks about selections are meaningless
    /// on a directory of policies alone.
    pub fn has_endpoints(&self) -> bool {
        !self.model.cluster.endpoints.is_empty()
    }

    pub fn enabled(&self, id: &str) -> bool {
        catalogue::check(id).is_some_and(|c| self.config.is_enabled(c))
    }

    /// Every rule that takes effect, policy by policy.
    pub fn rules(&self) -> impl Iterator<Item = RuleRef<'m>> + 'm {
        let model = self.model;
        model
            .cluster
            .policies
            .iter()
            .enumerate()
            .flat_map(move |(pi, p)| {
                Direction::BOTH.into_iter().flat_map(move |d| {
                    p.rules(d).iter().enumerate().map(move |(i, rule)| RuleRef {
                        policy: PolicyId(pi as u32),
                        direction: d,
                        index: i,
                        rule,
                    })
                })
            })
    }

    /// The pods a selector peer of an effective rule admits (None for an ipBlock).
    pub fn peer_endpoints(&self, r: &RuleRef<'_>, peer: usize) -> Option<&'m EndpointSet> {
        let id = self.model.peer_id(r.policy, r.direction, r.index, peer);
        match self.model.peer(id) {
            PeerMatch::Endpoints(s) => Some(s),
            PeerMatch::Addrs(_) => None,
        }
    }

    /// The pods a rule's ports resolve on: the selected pods for ingress, the peers' pods
    /// for egress. The flag is false when the rule also reaches addresses outside the
    /// cluster (no from/to, or an ipBlock), which declare no ports.
    pub fn destinations(&self, r: &RuleRef<'_>) -> (EndpointSet, bool) {
        match r.direction {
            Direction::Ingress => (self.selected[r.policy.index()].clone(), true),
            Direction::Egress => {
                let n = self.model.cluster.endpoints.len();
                if r.rule.peers.is_empty() {
                    return (EndpointSet::full(n), false);
                }
                let mut set = EndpointSet::empty(n);
                let mut only_pods = true;
                for (i, p) in r.rule.peers.iter().enumerate() {
                    match (p, self.peer_endpoints(r, i)) {
                        (Peer::Selectors { .. }, Some(s)) => set.union_with(s),
                        _ => only_pods = false,
                    }
                }
                (set, only_pods)
            }
        }
    }

    pub fn policy_key(&self, p: PolicyId) -> String {
        self.model.cluster.policy(p).key()
    }

    /// A few endpoint names of a set, for messages: `a, b, c (+4 more)`.
    pub fn sample(&self, set: &EndpointSet, limit: usize) -> String {
        let total = set.count();
        let names: Vec<String> = set
            .iter()
            .take(limit)
            .map(|i| {
                self.model
                    .cluster
                    .endpoint_name(netfence_model::EndpointId(i as u32))
            })
            .collect();
        if total > limit {
            format!("{} (+{} more)", names.join(", "), total - limit)
        } else {
            names.join(", ")
        }
    }

    /// Object description, config key and source of a subject.
    pub fn describe(&self, subject: Subject) -> (String, String, Source) {
        let c = &self.model.cluster;
        match subject {
            Subject::Manifest => (String::new(), String::new(), Source::new("", 0)),
            Subject::Policy(p) => {
                let p = c.policy(p);
                (
                    format!("NetworkPolicy {}", p.key()),
                    p.key(),
                    p.meta.source.clone(),
                )
            }
            Subject::Service(i) => {
                let s = &c.services[i];
                let key = format!("{}/{}", s.meta.namespace, s.meta.name);
                (format!("Service {key}"), key, s.meta.source.clone())
            }
            Subject::Namespace(ns) => {
                let ns = c.namespace(ns);
                (
                    format!("Namespace {}", ns.name),
                    ns.name.clone(),
                    ns.source.clone(),
                )
            }
            Subject::Workload(w) => {
                let wl = &c.workloads[w];
                let key = format!("{}/{}", wl.meta.namespace, wl.meta.name);
                (
                    format!("{} {key}", wl.kind.kind()),
                    key,
                    wl.meta.source.clone(),
                )
            }
            Subject::Endpoint(e) => {
                let ep = c.endpoint(e);
                let key = format!("{}/{}", c.namespace(ep.namespace).name, ep.name);
                let kind = match ep.kind {
                    EndpointKind::Pod => "Pod",
                    EndpointKind::Workload(k) => k.kind(),
                    EndpointKind::StandIn => "stand-in",
                };
                (format!("{kind} {key}"), key, ep.source.clone())
            }
            Subject::TierPolicy(i) => {
                let p = &c.tier_policies[i];
                (
                    format!("{} {}", p.kind.kind(), p.name),
                    p.key(),
                    p.source.clone(),
                )
            }
        }
    }

    fn annotations(&self, subject: Subject) -> Option<&'m BTreeMap<String, String>> {
        let c = &self.model.cluster;
        match subject {
            Subject::Manifest => None,
            Subject::Policy(p) => Some(&c.policy(p).meta.annotations),
            Subject::Service(i) => Some(&c.services[i].meta.annotations),
            Subject::Namespace(ns) => Some(&c.namespace(ns).annotations),
            Subject::Workload(w) => Some(&c.workloads[w].meta.annotations),
            // Pods keep no annotations in the model; a pod of a workload is suppressed
            // through its workload.
            Subject::Endpoint(e) => c
                .endpoint(e)
                .workload
                .map(|w| &c.workloads[w].meta.annotations),
            Subject::TierPolicy(i) => Some(&c.tier_policies[i].annotations),
        }
    }

    /// Does the subject carry `netfence.io/lint-ignore` naming this check?
    pub fn ignored_by_annotation(&self, subject: Subject, id: &str) -> bool {
        self.annotations(subject)
            .and_then(|a| a.get(IGNORE_ANNOTATION))
            .is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(id)))
    }

    /// A finding of check `id` about a NetworkPolicy, placed at the line of `field` (or
    /// of the nearest field around it that the text shows, else the policy's own line).
    pub fn finding_at(
        &self,
        id: &str,
        policy: PolicyId,
        field: PolicyField,
        message: String,
    ) -> Finding {
        let mut f = self.finding(id, Subject::Policy(policy), message);
        if let Some(line) = self.model.cluster.policy(policy).lines.line(field) {
            f.source.line = line;
        }
        f
    }

    /// A finding of check `id` about `subject`.
    pub fn finding(&self, id: &str, subject: Subject, message: String) -> Finding {
        let check: &'static Check = catalogue::check(id).expect("a catalogue id");
        let (object, key, source) = self.describe(subject);
        Finding {
            check,
            subject,
            object,
            key,
            source,
            message,
        }
    }
}
