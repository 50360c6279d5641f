//! The controller's fast path for pod events: a model patched in place
//! (`Model::upsert_pod` / `remove_pod`) and rendered with a set cache must be exactly what
//! a fresh compile and a fresh render of the changed cluster give. Random clusters,
//! random pod events (create, delete, relabel, readdress, move, hostNetwork, named
//! ports, Pending, Succeeded), every node's ruleset compared after every event; every
//! other cluster has tiered policies too (their stacks and sets follow the pods).
//! `NETFENCE_PATCH_SEEDS` sets how many clusters (default 40).

use netfence_model::objects::{ContainerPort, Direction, Pod};
use netfence_model::{
    parse_manifest, Cluster, Model, Object, PeerMatch, PodChange, Protocol, Unpatchable,
};
use netfence_nft::{render_cached, render_ruleset, NodeView, RenderOptions, SetCache};
use netfence_synth::{Rng, SynthConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Everything a model says, in terms of names rather than numbering.
#[derive(PartialEq, Eq, Debug)]
struct Canonical {
    endpoints: BTreeMap<String, String>,
    isolation: BTreeMap<String, [Option<Vec<String>>; 2]>,
    peers: BTreeMap<String, String>,
    unions: BTreeSet<(String, Vec<String>, Vec<String>)>,
}

fn canonical(m: &Model) -> Canonical {
    let c = &m.cluster;
    let mut out = Canonical {
        endpoints: BTreeMap::new(),
        isolation: BTreeMap::new(),
        peers: BTreeMap::new(),
        unions: BTreeSet::new(),
    };
    for (i, e) in c.endpoints.iter().enumerate() {
        assert_eq!(e.id.index(), i, "endpoint ids are positions");
        let name = c.endpoint_name(e.id);
        assert_eq!(c.endpoint_by_key(&name), Some(e.id), "{name} found by key");
        let mut plain = e.clone();
        plain.id = netfence_model::EndpointId(0);
        out.endpoints.insert(name.clone(), format!("{plain:?}"));
        let iso = Direction::BOTH.map(|d| m.union_of(e.id, d).map(|u| m.policy_keys(u.id)));
        out.isolation.insert(name, iso);
    }
    for (pi, p) in c.policies.iter().enumerate() {
        let id = netfence_model::PolicyId(pi as u32);
        for d in Direction::BOTH {
            for (ri, rule) in p.rules(d).iter().enumerate() {
                for pe in 0..rule.peers.len() {
                    let members = match m.peer(m.peer_id(id, d, ri, pe)) {
                        PeerMatch::Endpoints(set) => {
                            assert_eq!(set.len(), c.endpoints.len(), "peer sets span all");
                            let names: BTreeSet<String> = set
                                .iter()
                                .map(|i| c.endpoint_name(netfence_model::EndpointId(i as u32)))
                                .collect();
                            format!("{names:?}")
                        }
                        PeerMatch::Addrs(b) => b.to_string(),
                    };
                    out.peers
                        .insert(format!("{} {d} {ri} {pe}", p.key()), members);
                }
            }
        }
    }
    for u in &m.unions {
        let by_slot: Vec<String> = c
            .endpoints
            .iter()
            .filter(|e| m.union_of(e.id, u.direction).map(|x| x.id) == Some(u.id))
            .map(|e| c.endpoint_name(e.id))
            .collect();
        let mut members: Vec<String> = u.members.iter().map(|e| c.endpoint_name(*e)).collect();
        members.sort();
        let mut sorted_slots = by_slot.clone();
        sorted_slots.sort();
        assert_eq!(members, sorted_slots, "union members are its endpoints");
        if !members.is_empty() {
            out.unions
                .insert((u.direction.to_string(), m.policy_keys(u.id), members));
        }
    }
    out
}

/// Where two rulesets differ, for a failure message.
fn difference(got: &netfence_nft::Ruleset, want: &netfence_nft::Ruleset) -> String {
    let mut out = Vec::new();
    for (name, s) in &want.sets {
        match got.sets.get(name) {
            None => out.push(format!("missing set {name}")),
            Some(g) if g != s => out.push(format!(
                "set {name}: got {:?}, want {:?}",
                g.elements, s.elements
            )),
            _ => {}
        }
    }
    for name in got.sets.keys().filter(|n| !want.sets.contains_key(*n)) {
        out.push(format!("extra set {name}"));
    }
    if got.maps != want.maps {
        out.push(format!("maps: got {:?}, want {:?}", got.maps, want.maps));
    }
    if got.chains != want.chains {
        out.push("chains differ".into());
    }
    out.join("; ")
}

struct World {
    rng: Rng,
    pods: BTreeMap<(String, String), Pod>,
    rest: Vec<Object>,
    namespaces: Vec<String>,
    nodes: Vec<String>,
    labels: Vec<(String, String)>,
    port_names: Vec<String>,
    next: u32,
    dual: bool,
}

impl World {
    fn objects(&self) -> Vec<Object> {
        let mut all = self.rest.clone();
        all.extend(self.pods.values().cloned().map(Object::Pod));
        all
    }

    fn fresh_addrs(&mut self) -> Vec<IpAddr> {
        self.next += 1;
        let n = self.next;
        let mut v: Vec<IpAddr> = vec![format!("10.250.{}.{}", n / 200, n % 200 + 1)
            .parse()
            .unwrap()];
        if self.dual {
            v.push(format!("fd00:250::{n:x}").parse().unwrap());
        }
        v
    }

    /// One random pod event: what the store would hand the model.
    fn event(&mut self) -> Event {
        let keys: Vec<(String, String)> = self.pods.keys().cloned().collect();
        let kind = self.rng.below(12);
        if keys.is_empty() || kind == 0 {
            let template = keys.first().map(|k| self.pods[k].clone());
            self.next += 1;
            let mut pod = template.unwrap_or_else(|| Pod {
                meta: netfence_model::objects::Meta {
                    name: String::new(),
                    namespace: String::new(),
                    labels: BTreeMap::new(),
                    annotations: BTreeMap::new(),
                    source: netfence_model::Source::new("event", 0),
                },
                ports: Vec::new(),
                host_network: false,
                node: None,
                addrs: Vec::new(),
                host_addrs: Vec::new(),
                terminated: false,
                controller: None,
            });
            pod.meta.name = format!("new-{}", self.next);
            pod.meta.namespace = self.rng.pick(&self.namespaces).clone();
            pod.meta.labels.clear();
            for _ in 0..self.rng.below(4) {
                let (k, v) = self.rng.pick(&self.labels).clone();
                pod.meta.labels.insert(k, v);
            }
            pod.addrs = self.fresh_addrs();
            pod.node = Some(self.rng.pick(&self.nodes).clone());
            pod.host_network = false;
            pod.terminated = false;
            return Event::Upsert(Box::new(pod));
        }
        let key = self.rng.pick(&keys).clone();
        let mut pod = self.pods[&key].clone();
        match kind {
            1 => return Event::Delete(key.0, key.1),
            2 | 3 => {
                let (k, v) = self.rng.pick(&self.labels).clone();
                pod.meta.labels.insert(k, v);
            }
            4 => {
                let existing: Vec<String> = pod.meta.labels.keys().cloned().collect();
                if let Some(k) = existing.get(self.rng.below(existing.len().max(1))) {
                    pod.meta.labels.remove(k);
                }
            }
            5 => pod.addrs = self.fresh_addrs(),
            6 => pod.node = Some(self.rng.pick(&self.nodes).clone()),
            7 => pod.host_network = !pod.host_network,
            8 => {
                let name = self.rng.pick(&self.port_names).clone();
                let protocol = *self.rng.pick(&Protocol::ALL);
                pod.ports = vec![ContainerPort {
                    name: Some(name),
                    port: 1000 + self.rng.below(3) as u16,
                    protocol,
                }];
            }
            10 => {
                // An address reused while its old pod is still listed (or a hostNetwork
                // pod's: the node's).
                let other = self.rng.pick(&keys).clone();
                pod.addrs = self.pods[&other].addrs.clone();
            }
            9 => {
                // Pending: no address, no node yet.
                pod.addrs.clear();
                pod.node = None;
            }
            _ => pod.terminated = true,
        }
        Event::Upsert(Box::new(pod))
    }

    fn record(&mut self, e: &Event) {
        match e {
            Event::Upsert(p) => {
                self.pods.insert(
                    (p.meta.namespace.clone(), p.meta.name.clone()),
                    (**p).clone(),
                );
            }
            Event::Delete(ns, name) => {
                self.pods.remove(&(ns.clone(), name.clone()));
            }
        }
    }
}

enum Event {
    // Boxed: a pod is much larger than a deletion.
    Upsert(Box<Pod>),
    Delete(String, String),
}

fn patch(m: &mut Model, e: &Event) -> Result<PodChange, Unpatchable> {
    match e {
        Event::Upsert(p) => m.upsert_pod((**p).clone()),
        Event::Delete(ns, name) => m.remove_pod(ns, name),
    }
}

fn world(seed: u64) -> World {
    let mut cfg = SynthConfig::small(seed);
    cfg.workloads = false;
    cfg.templates = 0;
    let mut text = netfence_synth::generate(&cfg);
    // Egress to named ports through every kind of peer (an ipBlock that holds some pod
    // addresses and not others, a peer of most pods, no peer at all), in the first
    // namespace: the sets of `addr . proto . port` are the hardest to edit in place.
    let first = parse_manifest("synth.yaml", &text, "default")
        .objects
        .iter()
        .find_map(|o| match o {
            Object::Pod(p) => Some(p.meta.namespace.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "default".into());
    text.push_str(&format!(
        "\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: named-egress, namespace: {first}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [10.250.1.0/24, 10.128.0.0/28]}}}}]\n    ports: [{{port: http}}, {{port: dns, protocol: UDP}}]\n  - to: [{{namespaceSelector: {{}}}}]\n    ports: [{{port: other}}]\n  - ports: [{{port: http, protocol: SCTP}}]\n"
    ));
    if seed % 2 == 1 {
        // Tiered policies whose subjects and peers pod events move: pods by label,
        // namespaces, addresses (pod addresses among them) and a named port.
        text.push_str(&format!(
            "\n---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: admin-guard}}\nspec:\n  tier: Admin\n  priority: 3\n  subject: {{namespaces: {{}}}}\n  ingress:\n  - {{name: named, action: Accept, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: {first}}}}}}}], protocols: [{{destinationNamedPort: http}}]}}\n  - {{name: pass, action: Pass, from: [{{pods: {{namespaceSelector: {{}}, podSelector: {{matchExpressions: [{{key: fresh, operator: Exists}}]}}}}}}]}}\n  egress:\n  - {{name: cut, action: Deny, to: [{{networks: [10.128.0.0/26]}}], protocols: [{{tcp: {{destinationPort: {{range: {{start: 80, end: 81}}}}}}}}]}}\n---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: baseline}}\nspec:\n  tier: Baseline\n  priority: 1\n  subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{fresh: label}}}}}}}}\n  ingress:\n  - {{name: deny-all, action: Deny, from: [{{namespaces: {{}}}}]}}\n"
        ));
    }
    let parsed = parse_manifest("synth.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let mut w = World {
        rng: Rng::new(seed ^ 0xE7E7),
        pods: BTreeMap::new(),
        rest: Vec::new(),
        namespaces: Vec::new(),
        nodes: vec!["node-extra".into()],
        labels: vec![("fresh".into(), "label".into())],
        port_names: vec!["http".into(), "dns".into(), "other".into()],
        next: 0,
        dual: cfg.dual_stack,
    };
    for o in parsed.objects {
        match o {
            Object::Pod(p) => {
                w.labels.extend(p.meta.labels.clone());
                w.nodes.extend(p.node.clone());
                w.namespaces.push(p.meta.namespace.clone());
                w.pods
                    .insert((p.meta.namespace.clone(), p.meta.name.clone()), p);
            }
            Object::Namespace(n) => {
                w.namespaces.push(n.name.clone());
                w.rest.push(Object::Namespace(n));
            }
            other => w.rest.push(other),
        }
    }
    for o in &w.rest {
        if let Object::Policy(p) = o {
            for sel in std::iter::once(&p.pod_selector) {
                w.labels.extend(sel.match_labels.clone());
            }
        }
    }
    w.namespaces.sort();
    w.namespaces.dedup();
    w.nodes.sort();
    w.nodes.dedup();
    w
}

fn views(w: &World) -> Vec<NodeView> {
    let mut v: Vec<NodeView> = w
        .nodes
        .iter()
        .map(|n| NodeView {
            name: Some(n.clone()),
            addrs: vec![],
        })
        .collect();
    v.push(NodeView::default());
    v
}

#[test]
fn patched_models_render_as_fresh_compiles_do() {
    let seeds: u64 = std::env::var("NETFENCE_PATCH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let opts = RenderOptions {
        counters: true,
        log_group: Some(7),
        unprogrammed_guard: vec![],
    };
    let (mut patched, mut recompiled, mut reused, mut tiered) = (0, 0, 0usize, 0usize);
    for seed in 0..seeds {
        let mut w = world(seed);
        let views = views(&w);
        let mut live = Model::compile(Cluster::build(w.objects()));
        let mut caches: Vec<SetCache> = views.iter().map(|_| SetCache::default()).collect();
        for (view, cache) in views.iter().zip(&mut caches) {
            render_cached(&live, view, &opts, cache).expect("render");
        }
        for step in 0..40 {
            let event = w.event();
            w.record(&event);
            let fresh = Model::compile(Cluster::build(w.objects()));
            match patch(&mut live, &event) {
                Ok(change) => {
                    patched += 1;
                    caches.iter_mut().for_each(|c| c.apply(&change));
                }
                Err(e) => {
                    panic!("seed {seed} step {step}: a pod event in a cluster without workloads is always patchable: {e}");
                }
            }
            assert_eq!(
                canonical(&live),
                canonical(&fresh),
                "seed {seed} step {step}: patched model differs from a fresh compile"
            );
            for (view, cache) in views.iter().zip(&mut caches) {
                let before = cache.len();
                let got = render_cached(&live, view, &opts, cache).expect("render");
                let want = render_ruleset(&fresh, view, &opts).expect("render");
                assert!(
                    got == want,
                    "seed {seed} step {step} node {:?}: cached render differs: {}",
                    view.name,
                    difference(&got, &want)
                );
                reused += before.min(cache.len());
                tiered += usize::from(
                    got.maps
                        .iter()
                        .any(|(n, m)| n.starts_with("admin_") && !m.elements.is_empty()),
                );
            }
        }
        // A recompile after patches renders the same as the patched model.
        let again = Model::compile(Cluster::build(w.objects()));
        assert_eq!(canonical(&live), canonical(&again));
        recompiled += 1;
    }
    assert_eq!(patched, seeds as usize * 40);
    assert_eq!(recompiled, seeds as usize);
    assert!(reused > 0, "the cache never kept a set");
    assert!(tiered > 0, "no render dispatched to a tier");
}

#[test]
fn pods_of_namespaces_with_workloads_or_unknown_namespaces_need_a_recompile() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec: {containers: [{name: c, image: x}]}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    let mut m = netfence_model::compile_text("t.yaml", text, "default").unwrap();
    let pod = |ns: &str| Pod {
        meta: netfence_model::objects::Meta {
            name: "p".into(),
            namespace: ns.into(),
            labels: [("app".to_string(), "d".to_string())].into(),
            annotations: BTreeMap::new(),
            source: netfence_model::Source::new("event", 0),
        },
        ports: vec![],
        host_network: false,
        node: Some("n".into()),
        addrs: vec!["10.0.0.9".parse().unwrap()],
        host_addrs: vec![],
        terminated: false,
        controller: None,
    };
    assert_eq!(
        m.upsert_pod(pod("a")),
        Err(Unpatchable::Workloads("a".into()))
    );
    assert_eq!(
        m.upsert_pod(pod("zz")),
        Err(Unpatchable::UnknownNamespace("zz".into()))
    );
    let change = m.upsert_pod(pod("b")).unwrap();
    assert!(change.before.is_none() && change.after.is_some() && !change.shared_addrs);
    assert_eq!(m.cluster.endpoint_by_key("b/p").map(|e| e.index()), Some(1));
    let gone = m.remove_pod("b", "p").unwrap();
    assert!(gone.before.is_some() && gone.after.is_none());
    assert!(m.remove_pod("b", "p").unwrap().is_empty());
}

/// A tiered-policy change applied as the controller applies it
/// (`Model::replace_tier_policies`, the cache's tiered sets forgotten) renders exactly
/// as a fresh compile of the changed cluster does.
#[test]
fn replaced_tier_policies_render_as_fresh_compiles_do() {
    let opts = RenderOptions {
        counters: true,
        log_group: Some(7),
        unprogrammed_guard: vec![],
    };
    let mut compared = 0;
    for seed in (1..12).step_by(2) {
        let w = world(seed);
        let views = views(&w);
        let objects = w.objects();
        let mut live = Model::compile(Cluster::build(objects.clone()));
        let mut caches: Vec<SetCache> = views.iter().map(|_| SetCache::default()).collect();
        for (view, cache) in views.iter().zip(&mut caches) {
            render_cached(&live, view, &opts, cache).expect("render");
        }
        // Drop the Admin policy, then change the Baseline one's action.
        let mut changed: Vec<Object> = objects
            .into_iter()
            .filter(|o| !matches!(o, Object::TierPolicy(p) if p.name == "admin-guard"))
            .collect();
        for o in &mut changed {
            if let Object::TierPolicy(p) = o {
                p.ingress[0].action = netfence_model::tier::TierAction::Pass;
            }
        }
        let tiers: Vec<_> = changed
            .iter()
            .filter_map(|o| match o {
                Object::TierPolicy(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        live.replace_tier_policies(tiers);
        let fresh = Model::compile(Cluster::build(changed));
        for (view, cache) in views.iter().zip(&mut caches) {
            cache.forget_tiers();
            let got = render_cached(&live, view, &opts, cache).expect("render");
            let want = render_ruleset(&fresh, view, &opts).expect("render");
            assert!(
                got == want,
                "seed {seed} node {:?}: {}",
                view.name,
                difference(&got, &want)
            );
            compared += 1;
        }
    }
    assert!(compared > 6);
}
