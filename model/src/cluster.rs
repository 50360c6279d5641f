//! The cluster as the model sees it: namespaces, endpoints (pods, and workload templates
//! standing in for pods not yet created), services and policies, with stable ids.

use crate::error::Source;
use crate::objects::{
    ContainerPort, Namespace, Object, Pod, Policy, Service, ServicePort, Workload, WorkloadKind,
};
use crate::owners::{self, WorkloadKey};
use crate::ports::{PortRef, Protocol};
use crate::selector::{LabelSelector, Labels};
use crate::stand_in::{CustomResource, StandInRules};
use crate::tier::{Node, TierPolicy};
use crate::truth::Truth;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
id_type!(NamespaceId);
id_type!(EndpointId);
id_type!(PolicyId);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EndpointKind {
    Pod,
    /// A workload's pod template, standing for pods that are not in the input.
    Workload(WorkloadKind),
    /// The pods an operator creates from a custom resource (`Cluster::stand_ins`); the
    /// endpoint's name is `kind/name` (`prometheus/k8s`), its labels the stand-in rule's.
    StandIn,
}

/// Something that sends and receives traffic: a pod, or a workload's pod template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub namespace: NamespaceId,
    pub name: String,
    pub kind: EndpointKind,
    pub labels: Labels,
    pub ports: Vec<ContainerPort>,
    /// Pod addresses; empty when unknown (templates, pending pods).
    pub addrs: Vec<IpAddr>,
    pub node: Option<String>,
    pub host_addrs: Vec<IpAddr>,
    /// hostNetwork pods are never isolated and, as peers, are their node.
    pub host_network: bool,
    pub source: Source,
    /// The workload owning this endpoint (index into `Cluster::workloads`).
    pub workload: Option<usize>,
}

impl Endpoint {
    /// The container port of that name and protocol.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        container_port(&self.ports, name, protocol)
    }

    /// The port a policy's named port resolves to with this endpoint as the
    /// destination (see [`destination_named_port`]).
    pub fn destination_named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        destination_named_port(&self.ports, self.host_network, name, protocol)
    }

    /// Every container port of that name, whatever its protocol.
    pub fn named_ports<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ContainerPort> {
        self.ports
            .iter()
            .filter(move |p| p.name.as_deref() == Some(name))
    }

    /// The endpoint of a pod (its id is assigned by the cluster).
    pub(crate) fn of_pod(p: Pod, namespace: NamespaceId, workload: Option<usize>) -> Endpoint {
        Endpoint {
            id: EndpointId(0),
            namespace,
            name: p.meta.name,
            kind: EndpointKind::Pod,
            labels: p.meta.labels,
            ports: p.ports,
            addrs: p.addrs,
            node: p.node,
            host_addrs: p.host_addrs,
            host_network: p.host_network,
            source: p.meta.source,
            workload,
        }
    }
}

fn container_port(ports: &[ContainerPort], name: &str, protocol: Protocol) -> Option<u16> {
    ports
        .iter()
        .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
        .map(|p| p.port)
}

/// The port a policy's named port resolves to on a destination pod with these container
/// ports: the container port of that name and protocol, and never one of a hostNetwork
/// pod (it is its node, and a node is not a pod, so named ports never match it, as they
/// never match any other non-pod address). The one home of that rule: the compiler, the
/// matrix, the renderer and its set cache ask it.
pub fn destination_named_port(
    ports: &[ContainerPort],
    host_network: bool,
    name: &str,
    protocol: Protocol,
) -> Option<u16> {
    if host_network {
        return None;
    }
    container_port(ports, name, protocol)
}

impl ServicePort {
    /// The port this Service port sends to on `backend`: a number as is, a name as the
    /// backend's container port of that name and the Service port's protocol (the
    /// endpoints controller's rule; unlike a policy's named port it also resolves on a
    /// hostNetwork backend). None: the backend does not serve this Service port.
    pub fn target_port_on(&self, backend: &Endpoint) -> Option<u16> {
        match &self.target {
            PortRef::Number(n) => Some(*n),
            PortRef::Name(name) => backend.named_port(name, self.protocol),
        }
    }
}

/// A namespaced object's display key.
pub fn endpoint_key(ns: &str, name: &str, kind: EndpointKind) -> String {
    match kind {
        EndpointKind::Pod => format!("{ns}/{name}"),
        EndpointKind::Workload(k) => format!("{ns}/{}/{name}", k.short()),
        EndpointKind::StandIn => format!("{ns}/{name}"),
    }
}

#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub namespaces: Vec<Namespace>,
    /// By id. `build` orders them by namespace and name; a patched model appends new
    /// pods and moves the last endpoint into a deleted one's place (see `patch`).
    pub endpoints: Vec<Endpoint>,
    pub services: Vec<Service>,
    pub policies: Vec<Policy>,
    /// Namespace of each policy, by policy id.
    pub policy_namespace: Vec<NamespaceId>,
    pub workloads: Vec<Workload>,
    /// ClusterNetworkPolicies, AdminNetworkPolicies and BaselineAdminNetworkPolicies, by
    /// kind and name.
    pub tier_policies: Vec<TierPolicy>,
    /// Nodes (for `nodes` peers), by name.
    pub nodes: Vec<Node>,
    /// Things worth telling the user that are not errors (duplicates replaced, ...).
    pub warnings: Vec<String>,
    /// By namespace id: are its labels known? False for a namespace that is only
    /// referenced (no Namespace object): of its labels only `kubernetes.io/metadata.name`
    /// is certain. Missing entries are known.
    pub labels_known: Vec<bool>,
    /// The pod network: where pods without a known address get theirs. Empty: unknown.
    pub pod_networks: Vec<IpNet>,
    /// The custom resources that have stand-in endpoints.
    pub stand_ins: Vec<CustomResource>,
    /// The custom resources without a stand-in rule (their pods' labels are unknown).
    pub custom_resources: Vec<CustomResource>,
    ns_by_name: HashMap<String, NamespaceId>,
    pub(crate) endpoint_by_key: HashMap<String, EndpointId>,
}

impl Cluster {
    /// Builds the cluster from objects. A later object with the same kind, namespace and
    /// name replaces an earlier one (as `kubectl apply` of both would).
    pub fn build(objects: Vec<Object>) -> Cluster {
        Cluster::build_with(objects, Vec::new(), &StandInRules::none())
    }

    /// [`Cluster::build`] with the custom resources of the input: those a rule knows get
    /// a stand-in endpoint, the others are kept for notes.
    pub fn build_with(
        objects: Vec<Object>,
        custom: Vec<CustomResource>,
        rules: &StandInRules,
    ) -> Cluster {
        let mut warnings = Vec::new();
        let mut namespaces: BTreeMap<String, Namespace> = BTreeMap::new();
        let mut pods = BTreeMap::new();
        let mut workloads = BTreeMap::new();
        let mut services = BTreeMap::new();
        let mut policies = BTreeMap::new();
        let mut tier_policies = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        let mut referenced = Vec::new();
        for obj in objects {
            let desc = obj.describe();
            let later = obj.source().clone();
            let earlier = match obj {
                Object::Namespace(n) => namespaces.insert(n.name.clone(), n).map(|o| o.source),
                Object::Pod(p) => {
                    referenced.push(p.meta.namespace.clone());
                    let k = (p.meta.namespace.clone(), p.meta.name.clone());
                    pods.insert(k, p).map(|o| o.meta.source)
                }
                Object::Workload(w) => {
                    referenced.push(w.meta.namespace.clone());
                    let k = (w.meta.namespace.clone(), w.kind, w.meta.name.clone());
                    workloads.insert(k, w).map(|o| o.meta.source)
                }
                Object::Service(s) => {
                    referenced.push(s.meta.namespace.clone());
                    let k = (s.meta.namespace.clone(), s.meta.name.clone());
                    services.insert(k, s).map(|o| o.meta.source)
                }
                Object::Policy(p) => {
                    referenced.push(p.meta.namespace.clone());
                    let k = (p.meta.namespace.clone(), p.meta.name.clone());
                    policies.insert(k, p).map(|o| o.meta.source)
                }
                Object::TierPolicy(p) => tier_policies
                    .insert((p.kind, p.name.clone()), p)
                    .map(|o| o.source),
                Object::Node(n) => nodes.insert(n.name.clone(), n).map(|o| o.source),
            };
            if let Some(earlier) = earlier {
                warnings.push(format!(
                    "{desc} is defined twice: {earlier} and {later}; the later wins"
                ));
            }
        }
        let (stand_ins, custom_resources): (Vec<_>, Vec<_>) = custom
            .into_iter()
            .partition(|cr| rules.find(&cr.group, &cr.kind).is_some());
        referenced.extend(stand_ins.iter().map(|cr| cr.namespace.clone()));
        let declared: std::collections::BTreeSet<String> = namespaces.keys().cloned().collect();
        for ns in referenced {
            namespaces.entry(ns.clone()).or_insert_with(|| {
                let mut labels = Labels::new();
                labels.insert("kubernetes.io/metadata.name".into(), ns.clone());
                Namespace {
                    name: ns,
                    labels,
                    annotations: BTreeMap::new(),
                    source: Source::new("<implicit>", 0),
                }
            });
        }

        let mut cluster = Cluster {
            warnings,
            ..Cluster::default()
        };
        for (i, (name, ns)) in namespaces.into_iter().enumerate() {
            cluster.labels_known.push(declared.contains(&name));
            cluster.ns_by_name.insert(name, NamespaceId(i as u32));
            cluster.namespaces.push(ns);
        }
        // A pod's controller (its ownerReference) says which workload it is of, also when
        // that workload is not in the input (a pod dump): such workloads are implied.
        let live: Vec<Pod> = pods.into_values().filter(|p| !p.terminated).collect();
        let pod_workloads: Vec<Option<WorkloadKey>> = live
            .iter()
            .map(|p| {
                let c = p.controller.as_ref()?;
                owners::top_workload(&p.meta.namespace, c, &p.meta.labels, &workloads)
            })
            .collect();
        for (p, key) in live.iter().zip(&pod_workloads) {
            if let Some(key) = key {
                if !workloads.contains_key(key) {
                    workloads.insert(key.clone(), owners::implied_workload(key, p));
                }
            }
        }
        // A workload controlled by another one in the input (a ReplicaSet of a
        // Deployment) is no stand-in of its own: its controller stands for its pods.
        let controlled: Vec<bool> = workloads
            .iter()
            .map(|((ns, kind, name), w)| {
                w.controller
                    .as_ref()
                    .and_then(|c| owners::top_workload(ns, c, &w.template_labels, &workloads))
                    .is_some_and(|top| {
                        top != (ns.clone(), *kind, name.clone()) && workloads.contains_key(&top)
                    })
            })
            .collect();
        let workload_index: HashMap<WorkloadKey, usize> = workloads
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        cluster.workloads = workloads.into_values().collect();
        cluster.services = services.into_values().collect();
        cluster.tier_policies = tier_policies.into_values().collect();
        cluster.nodes = nodes.into_values().collect();
        for p in policies.into_values() {
            let ns = cluster.ns_by_name[&p.meta.namespace];
            cluster.policy_namespace.push(ns);
            cluster.policies.push(p);
        }

        // Endpoints: pods first, then templates of workloads that own none of the pods.
        let mut owned = controlled;
        let mut endpoints = Vec::new();
        for (p, key) in live.into_iter().zip(pod_workloads) {
            let workload = match key {
                Some(key) => Some(workload_index[&key]),
                None => cluster.owner_of(&p.meta.namespace, &p.meta.labels),
            };
            if let Some(w) = workload {
                owned[w] = true;
            }
            let ns = cluster.ns_by_name[&p.meta.namespace];
            endpoints.push(Endpoint::of_pod(p, ns, workload));
        }
        for (i, w) in cluster.workloads.iter().enumerate() {
            // A workload with pods, or controlled by another workload, is no stand-in.
            if owned[i] {
                continue;
            }
            endpoints.push(Endpoint {
                id: EndpointId(0),
                namespace: cluster.ns_by_name[&w.meta.namespace],
                name: w.meta.name.clone(),
                kind: EndpointKind::Workload(w.kind),
                labels: w.template_labels.clone(),
                ports: w.ports.clone(),
                addrs: Vec::new(),
                node: None,
                host_addrs: Vec::new(),
                host_network: w.host_network,
                source: w.meta.source.clone(),
                workload: Some(i),
            });
        }
        for cr in &stand_ins {
            let rule = rules
                .find(&cr.group, &cr.kind)
                .expect("partitioned by rule");
            endpoints.push(Endpoint {
                id: EndpointId(0),
                namespace: cluster.ns_by_name[&cr.namespace],
                name: format!("{}/{}", cr.kind.to_ascii_lowercase(), cr.name),
                kind: EndpointKind::StandIn,
                labels: rule.labels_for(cr),
                ports: rule.ports.clone(),
                addrs: Vec::new(),
                node: None,
                host_addrs: Vec::new(),
                host_network: false,
                source: cr.source.clone(),
                workload: None,
            });
        }
        cluster.stand_ins = stand_ins;
        cluster.custom_resources = custom_resources;
        endpoints
            .sort_by_cached_key(|e| (e.namespace, e.name.clone(), e.kind != EndpointKind::Pod));
        for (i, e) in endpoints.iter_mut().enumerate() {
            e.id = EndpointId(i as u32);
        }
        for e in &endpoints {
            let key = endpoint_key(
                &cluster.namespaces[e.namespace.index()].name,
                &e.name,
                e.kind,
            );
            cluster.endpoint_by_key.insert(key, e.id);
        }
        cluster.endpoints = endpoints;
        cluster
    }

    /// The workload that owns pods with these labels in this namespace: the top-level
    /// controller is preferred (a Deployment over its ReplicaSet).
    fn owner_of(&self, ns: &str, labels: &Labels) -> Option<usize> {
        let (start, end) = self.workloads_of(ns);
        let rank = |k: WorkloadKind| match k {
            WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => 0,
            WorkloadKind::CronJob | WorkloadKind::ReplicationController => 1,
            WorkloadKind::Job => 2,
            WorkloadKind::ReplicaSet => 3,
        };
        self.workloads[start..end]
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.selector.is_empty() && w.selector.matches(labels))
            .min_by_key(|(_, w)| rank(w.kind))
            .map(|(i, _)| start + i)
    }

    /// The range of `workloads` in namespace `ns` (they are sorted by namespace).
    pub(crate) fn workloads_of(&self, ns: &str) -> (usize, usize) {
        let start = self
            .workloads
            .partition_point(|w| w.meta.namespace.as_str() < ns);
        let end = self
            .workloads
            .partition_point(|w| w.meta.namespace.as_str() <= ns);
        (start, end)
    }

    pub fn namespace_id(&self, name: &str) -> Option<NamespaceId> {
        self.ns_by_name.get(name).copied()
    }

    pub fn namespace(&self, id: NamespaceId) -> &Namespace {
        &self.namespaces[id.index()]
    }

    /// Are the labels of the namespace known (a Namespace object was read)?
    pub fn labels_known(&self, id: NamespaceId) -> bool {
        self.labels_known.get(id.index()).copied().unwrap_or(true)
    }

    /// Does a namespaceSelector match the namespace? Unknown when the namespace is only
    /// referenced and the answer depends on labels other than the ones always set.
    pub fn namespace_truth(&self, sel: &LabelSelector, id: NamespaceId) -> Truth {
        sel.truth(&self.namespace(id).labels, self.labels_known(id))
    }

    pub fn endpoint(&self, id: EndpointId) -> &Endpoint {
        &self.endpoints[id.index()]
    }

    pub fn policy(&self, id: PolicyId) -> &Policy {
        &self.policies[id.index()]
    }

    /// `ns/name` for pods, `ns/kind/name` for workload templates.
    pub fn endpoint_name(&self, id: EndpointId) -> String {
        let e = self.endpoint(id);
        endpoint_key(&self.namespace(e.namespace).name, &e.name, e.kind)
    }

    pub fn endpoint_by_key(&self, key: &str) -> Option<EndpointId> {
        self.endpoint_by_key.get(key).copied()
    }

    /// The endpoint that has this address (pods only; hostNetwork pods share their
    /// node's address and are not returned).
    pub fn endpoint_by_addr(&self, addr: &IpAddr) -> Option<EndpointId> {
        self.endpoints
            .iter()
            .find(|e| e.on_pod_network() && e.addrs.contains(addr))
            .map(|e| e.id)
    }

    /// Pods (or stand-in templates) of a workload.
    pub fn workload_endpoints(&self, workload: usize) -> Vec<EndpointId> {
        self.endpoints
            .iter()
            .filter(|e| e.workload == Some(workload))
            .map(|e| e.id)
            .collect()
    }

    pub fn workload_key(&self, workload: usize) -> String {
        let w = &self.workloads[workload];
        format!("{}/{}/{}", w.meta.namespace, w.kind.short(), w.meta.name)
    }

    pub fn find_workload(&self, ns: &str, kind: WorkloadKind, name: &str) -> Option<usize> {
        self.workloads
            .iter()
            .position(|w| w.kind == kind && w.meta.namespace == ns && w.meta.name == name)
    }

    pub fn find_service(&self, ns: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.meta.namespace == ns && s.meta.name == name)
    }

    /// Backends of a Service: endpoints of its namespace matching its selector.
    pub fn service_backends(&self, svc: &Service) -> Vec<EndpointId> {
        let Some(sel) = &svc.selector else {
            return Vec::new();
        };
        let Some(ns) = self.namespace_id(&svc.meta.namespace) else {
            return Vec::new();
        };
        self.endpoints
            .iter()
            .filter(|e| e.namespace == ns && sel.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            .map(|e| e.id)
            .collect()
    }

    pub fn policy_id(&self, ns: &str, name: &str) -> Option<PolicyId> {
        self.policies
            .iter()
            .position(|p| p.meta.namespace == ns && p.meta.name == name)
            .map(|i| PolicyId(i as u32))
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_manifest;

    fn pods(file: &str, text: &str) -> Vec<Object> {
        let m = parse_manifest(file, text, "shop");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        m.objects
    }

    #[test]
    fn a_duplicate_names_both_places_and_the_later_wins() {
        let pod = |ip: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: web}}\nstatus: {{podIP: {ip}}}\n")
        };
        let mut objects = pods("a.yaml", &format!("# header\n{}", pod("10.0.0.1")));
        objects.extend(pods("b.yaml", &format!("---\n{}", pod("10.0.0.2"))));
        let c = Cluster::build(objects);
        assert_eq!(
            c.warnings,
            vec!["Pod shop/web is defined twice: a.yaml:2 and b.yaml:2; the later wins"]
        );
        assert_eq!(c.endpoints[0].addrs[0].to_string(), "10.0.0.2");
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;
    use crate::parse_manifest;

    fn build(text: &str) -> Cluster {
        let m = parse_manifest("dump.yaml", text, "default");
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        Cluster::build(m.objects)
    }

    fn pod(name: &str, labels: &str, owner: Option<(&str, &str)>) -> String {
        let owner = owner.map_or(String::new(), |(kind, n)| {
            format!("\n    ownerReferences:\n    - {{apiVersion: apps/v1, kind: {kind}, name: {n}, controller: true, uid: u}}")
        });
        format!("- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {name}\n    namespace: shop\n    labels: {labels}{owner}\n")
    }

    fn workload_of(c: &Cluster, name: &str) -> Option<String> {
        let e = c.endpoint(c.endpoint_by_key(&format!("shop/{name}")).unwrap());
        e.workload.map(|w| c.workload_key(w))
    }

    #[test]
    fn a_pod_dump_groups_pods_under_the_workloads_their_owners_imply() {
        let hashed = "{app: web, pod-template-hash: 5d8f7c9b6}";
        let text = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}{}{}{}{}",
            pod(
                "web-5d8f7c9b6-x2x9z",
                hashed,
                Some(("ReplicaSet", "web-5d8f7c9b6"))
            ),
            pod(
                "web-5d8f7c9b6-kq7vd",
                hashed,
                Some(("ReplicaSet", "web-5d8f7c9b6"))
            ),
            pod("db-0", "{app: db}", Some(("StatefulSet", "db"))),
            pod(
                "report-29409120-8xj2k",
                "{app: report}",
                Some(("Job", "report-29409120"))
            ),
            pod("debug", "{app: web}", None),
        );
        let c = build(&text);
        let web = Some("shop/deploy/web".to_string());
        assert_eq!(workload_of(&c, "web-5d8f7c9b6-x2x9z"), web);
        assert_eq!(workload_of(&c, "web-5d8f7c9b6-kq7vd"), web);
        assert_eq!(workload_of(&c, "db-0"), Some("shop/sts/db".into()));
        assert_eq!(
            workload_of(&c, "report-29409120-8xj2k"),
            Some("shop/cronjob/report".into())
        );
        // No owner, no workload with a selector: a pod of its own.
        assert_eq!(workload_of(&c, "debug"), None);
        // The implied workloads have pods, so no stand-in endpoint of their own.
        assert_eq!(c.endpoints.len(), 5);
        let w = c
            .find_workload("shop", WorkloadKind::Deployment, "web")
            .unwrap();
        // Placed at its first pod by name (web-5d8f7c9b6-kq7vd).
        assert_eq!(c.workloads[w].meta.source.to_string(), "dump.yaml:12");
    }

    #[test]
    fn owner_references_win_over_label_matching() {
        // Deployment `other` selects app=web too; the pods' owner says `web`'s.
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: other, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template: {{metadata: {{labels: {{app: web}}}}}}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-abc\n  namespace: shop\n  ownerReferences: [{{kind: Deployment, name: web, controller: true}}]\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template: {{metadata: {{labels: {{app: web}}}}}}\n---\napiVersion: v1\nkind: List\nitems:\n{}",
            pod("web-abc-1", "{app: web}", Some(("ReplicaSet", "web-abc"))),
        );
        let c = build(&text);
        assert_eq!(workload_of(&c, "web-abc-1"), Some("shop/deploy/web".into()));
        // `other` owns no pod and stands in for its own; the ReplicaSet, controlled by
        // the Deployment its pods imply, does not.
        let names: Vec<String> = (0..c.endpoints.len())
            .map(|i| c.endpoint_name(EndpointId(i as u32)))
            .collect();
        assert_eq!(names, ["shop/deploy/other", "shop/web-abc-1"]);
    }

    #[test]
    fn a_pod_whose_controller_implies_a_workload_is_not_patched_in() {
        let text = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}",
            pod("debug", "{app: x}", None)
        );
        let mut model = crate::Model::compile(build(&text));
        let m = parse_manifest(
            "new.yaml",
            &format!(
                "apiVersion: v1\nkind: List\nitems:\n{}",
                pod("db-0", "{app: db}", Some(("StatefulSet", "db")))
            ),
            "default",
        );
        let Some(Object::Pod(p)) = m.objects.into_iter().next() else {
            panic!("a pod")
        };
        // A fresh build adds StatefulSet db for it, which a patch cannot.
        assert_eq!(
            model.upsert_pod(p),
            Err(crate::patch::Unpatchable::Controlled("shop/db-0".into()))
        );
    }
}
