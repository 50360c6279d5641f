//! The objects the controller enforces from, kept decoded. Each watched object is decoded
//! once when it changes (by the one decoding path, `netfence_loader::cluster::decode_typed`,
//! before it reaches the store); a malformed update keeps the last good version of that
//! object enforced (one bad object never takes away protection that was in place).

use netfence_model::objects::{Pod, WorkloadKind};
use netfence_model::tier::TierKind;
use netfence_model::{ManifestError, Object, ParsedManifest};
use std::collections::BTreeMap;

/// Past this many pod events in one batch, recompiling is cheaper than patching.
const MAX_PATCHES: usize = 300;

/// A pod event, as the model patches it. Events are moved once from the watch into the
/// patch queue (at most `MAX_PATCHES`), so the pod stays inline rather than boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum PodEvent {
    Upsert(Pod),
    Delete { namespace: String, name: String },
}

/// What changed since the enforcer last looked: pod events it can patch the model with,
/// or `everything` (namespaces, policies, relists, reloads: recompile).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub pods: Vec<PodEvent>,
    /// Tiered policies changed (nothing else needs a recompile for them: their
    /// compiled form is built again on its own, `Model::replace_tier_policies`).
    pub tiers: bool,
    pub everything: bool,
}

impl Changes {
    fn pod(&mut self, e: PodEvent) {
        if self.everything {
            return;
        }
        if self.pods.len() == MAX_PATCHES {
            self.all();
        } else {
            self.pods.push(e);
        }
    }

    fn tier(&mut self) {
        if !self.everything {
            self.tiers = true;
        }
    }

    fn all(&mut self) {
        self.everything = true;
        self.tiers = false;
        self.pods = Vec::new();
    }
}

/// The kind of an object in the store: the watched kinds, and what standalone mode's
/// manifests add.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Kind {
    Namespace,
    Pod,
    NetworkPolicy,
    Service,
    Workload(WorkloadKind),
    TierPolicy(TierKind),
    Node,
}

impl Kind {
    /// The API kind, as objects spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::Service => "Service",
            Kind::Workload(w) => w.kind(),
            Kind::TierPolicy(k) => k.kind(),
            Kind::Node => "Node",
        }
    }
}

/// kind / namespace / name
pub type Key = (Kind, String, String);

/// An object as the decoder left it.
// Moved once, into the store, which holds objects unboxed: a box would be an
// allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    Object(Object),
    /// Of a kind (or apiVersion) the model does not read.
    Skipped,
    /// Refused, for these reasons: its last valid version (if any) stays in force.
    Invalid(Vec<ManifestError>),
}

impl Decoded {
    /// The one object of a decoding (as `netfence_loader::cluster::decode_typed` gives).
    pub fn from_parsed(parsed: ParsedManifest) -> Decoded {
        if !parsed.errors.is_empty() {
            return Decoded::Invalid(parsed.errors);
        }
        match parsed.objects.into_iter().next() {
            Some(o) => Decoded::Object(o),
            None => Decoded::Skipped,
        }
    }
}

/// The objects enforced from, by kind, namespace and name: an index that the sources
/// keep with [`apply`](ObjectStore::apply), [`delete`](ObjectStore::delete) and
/// [`reset`](ObjectStore::reset) (a relist) per kind, and that tells the enforcer what
/// changed since it last looked.
#[derive(Default)]
pub struct ObjectStore {
    objects: BTreeMap<Key, Object>,
    /// Bumped on every change, so the reconciler knows there is work.
    generation: u64,
    changes: Changes,
    /// This node's pod CIDRs (`spec.podCIDRs`), once read: the default range of the
    /// unprogrammed-pod guard.
    node_pod_cidrs: Option<Vec<ipnet::IpNet>>,
}

/// What happened to an object handed to the store.
#[derive(Debug, PartialEq)]
pub enum Stored {
    Changed,
    Unchanged,
    /// Rejected; the previous version (if any) stays in force.
    Invalid(Vec<ManifestError>),
}

impl ObjectStore {
    /// The generation: bumped by every change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// An object was added or modified.
    pub fn apply(&mut self, key: Key, decoded: Decoded) -> Stored {
        match decoded {
            Decoded::Invalid(errors) => Stored::Invalid(errors),
            Decoded::Skipped => Stored::Unchanged,
            Decoded::Object(obj) => {
                if self.put(key, obj) {
                    self.generation += 1;
                    Stored::Changed
                } else {
                    Stored::Unchanged
                }
            }
        }
    }

    /// An object was deleted.
    pub fn delete(&mut self, key: &Key) -> Stored {
        if self.remove(key) {
            self.generation += 1;
            Stored::Changed
        } else {
            Stored::Unchanged
        }
    }

    /// A relist of `key`'s kind: its objects are exactly `listed` from now on, except
    /// that an invalid one keeps its last valid version (a relist must not take away
    /// protection that was in place). Returns whether anything changed.
    pub fn reset(&mut self, kind: Kind, listed: Vec<(Key, Decoded)>) -> bool {
        let mut next: BTreeMap<Key, Object> = BTreeMap::new();
        for (key, decoded) in listed {
            debug_assert_eq!(key.0, kind);
            match decoded {
                Decoded::Object(o) => {
                    next.insert(key, o);
                }
                Decoded::Invalid(_) => {
                    if let Some(old) = self.objects.get(&key) {
                        next.insert(key, old.clone());
                    }
                }
                Decoded::Skipped => {}
            }
        }
        let stale: Vec<Key> = self
            .objects
            .keys()
            .filter(|k| k.0 == kind && !next.contains_key(*k))
            .cloned()
            .collect();
        let mut changed = false;
        for k in &stale {
            changed |= self.remove(k);
        }
        for (key, obj) in next {
            changed |= self.put(key, obj);
        }
        if changed {
            self.generation += 1;
        }
        changed
    }

    /// Replaces everything (standalone mode reloads whole directories).
    pub fn reset_all(&mut self, objects: Vec<Object>) -> bool {
        let mut next = BTreeMap::new();
        for o in objects {
            next.insert(object_key(&o), o);
        }
        if next == self.objects {
            return false;
        }
        self.objects = next;
        self.changes.all();
        self.generation += 1;
        true
    }

    /// Inserts or replaces; records the change. Returns whether it was one.
    fn put(&mut self, key: Key, obj: Object) -> bool {
        if self.objects.get(&key) == Some(&obj) {
            return false;
        }
        match &obj {
            Object::Pod(p) => self.changes.pod(PodEvent::Upsert(p.clone())),
            Object::TierPolicy(_) => self.changes.tier(),
            _ => self.changes.all(),
        }
        self.objects.insert(key, obj);
        true
    }

    /// Removes; records the change. Returns whether there was anything to remove.
    fn remove(&mut self, key: &Key) -> bool {
        if self.objects.remove(key).is_none() {
            return false;
        }
        match key.0 {
            Kind::Pod => self.changes.pod(PodEvent::Delete {
                namespace: key.1.clone(),
                name: key.2.clone(),
            }),
            Kind::TierPolicy(_) => self.changes.tier(),
            _ => self.changes.all(),
        }
        true
    }

    /// The node's pod CIDRs were read; returns whether they changed. A change bumps the
    /// generation (the guard sets must be rendered again) without recompiling.
    pub fn set_node_pod_cidrs(&mut self, cidrs: Vec<ipnet::IpNet>) -> bool {
        if self.node_pod_cidrs.as_ref() == Some(&cidrs) {
            return false;
        }
        self.node_pod_cidrs = Some(cidrs);
        self.generation += 1;
        true
    }

    /// The node's pod CIDRs (None: not read, or the node had none).
    pub fn node_pod_cidrs(&self) -> Option<&[ipnet::IpNet]> {
        self.node_pod_cidrs.as_deref()
    }

    /// The changes since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// The tiered policies held.
    pub fn tier_policies(&self) -> Vec<netfence_model::tier::TierPolicy> {
        self.objects
            .values()
            .filter_map(|o| match o {
                Object::TierPolicy(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn objects(&self) -> Vec<Object> {
        self.objects.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// The key of a decoded object.
pub fn object_key(o: &Object) -> Key {
    match o {
        Object::Namespace(n) => (Kind::Namespace, String::new(), n.name.clone()),
        Object::Pod(p) => (Kind::Pod, p.meta.namespace.clone(), p.meta.name.clone()),
        Object::Workload(w) => (
            Kind::Workload(w.kind),
            w.meta.namespace.clone(),
            w.meta.name.clone(),
        ),
        Object::Service(s) => (Kind::Service, s.meta.namespace.clone(), s.meta.name.clone()),
        Object::Policy(p) => (
            Kind::NetworkPolicy,
            p.meta.namespace.clone(),
            p.meta.name.clone(),
        ),
        Object::TierPolicy(p) => (Kind::TierPolicy(p.kind), String::new(), p.name.clone()),
        Object::Node(n) => (Kind::Node, String::new(), n.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str) -> (Key, Decoded) {
        let text = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: a}}\nstatus: {{podIP: '{ip}'}}\n"
        );
        let parsed = netfence_model::parse_manifest("t.yaml", &text, "default");
        (
            (Kind::Pod, "a".into(), name.into()),
            Decoded::from_parsed(parsed),
        )
    }

    fn policy(name: &str) -> (Key, Decoded) {
        let text = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: a}}\nspec: {{podSelector: {{}}}}\n"
        );
        let parsed = netfence_model::parse_manifest("t.yaml", &text, "default");
        (
            (Kind::NetworkPolicy, "a".into(), name.into()),
            Decoded::from_parsed(parsed),
        )
    }

    fn apply(s: &mut ObjectStore, (key, d): (Key, Decoded)) -> Stored {
        s.apply(key, d)
    }

    #[test]
    fn a_bad_update_keeps_the_last_good_version() {
        let mut s = ObjectStore::default();
        assert_eq!(apply(&mut s, pod("p", "10.0.0.1")), Stored::Changed);
        assert_eq!(apply(&mut s, pod("p", "10.0.0.1")), Stored::Unchanged);
        let bad = pod("p", "not-an-ip");
        assert!(matches!(bad.1, Decoded::Invalid(_)), "{bad:?}");
        assert!(matches!(apply(&mut s, bad), Stored::Invalid(_)));
        assert_eq!(s.len(), 1);
        let Object::Pod(p) = &s.objects()[0] else {
            panic!()
        };
        assert_eq!(p.addrs[0].to_string(), "10.0.0.1");
    }

    #[test]
    fn a_reset_drops_objects_not_listed_again_but_keeps_invalid_ones() {
        let mut s = ObjectStore::default();
        apply(&mut s, pod("p", "10.0.0.1"));
        apply(&mut s, pod("q", "10.0.0.2"));
        apply(&mut s, pod("r", "10.0.0.3"));
        apply(&mut s, policy("deny"));
        s.take_changes();
        let g = s.generation();
        let listed = vec![pod("q", "10.0.0.2"), pod("r", "broken")];
        assert!(s.reset(Kind::Pod, listed));
        assert_eq!(s.generation(), g + 1, "one relist, one generation");
        let names: Vec<String> = s.objects().iter().map(Object::describe).collect();
        assert_eq!(names, ["Pod a/q", "Pod a/r", "NetworkPolicy a/deny"]);
        // p's removal is a pod event the model can patch; other kinds are untouched.
        let changes = s.take_changes();
        assert!(!changes.everything);
        assert_eq!(
            changes.pods,
            [PodEvent::Delete {
                namespace: "a".into(),
                name: "p".into()
            }]
        );
        // The same list again changes nothing.
        assert!(!s.reset(Kind::Pod, vec![pod("q", "10.0.0.2"), pod("r", "broken")]));
        assert_eq!(s.generation(), g + 1);
        // A policy relist without it: everything must be recompiled.
        assert!(s.reset(Kind::NetworkPolicy, vec![]));
        assert!(s.take_changes().everything);
    }

    #[test]
    fn deletes_of_pods_are_patches_and_a_long_burst_is_a_recompile() {
        let mut s = ObjectStore::default();
        apply(&mut s, pod("p", "10.0.0.1"));
        assert_eq!(
            s.delete(&(Kind::Pod, "a".into(), "p".into())),
            Stored::Changed
        );
        assert_eq!(
            s.delete(&(Kind::Pod, "a".into(), "p".into())),
            Stored::Unchanged
        );
        let changes = s.take_changes();
        assert_eq!(changes.pods.len(), 2);
        assert!(!changes.everything);
        for i in 0..=MAX_PATCHES {
            apply(
                &mut s,
                pod(
                    &format!("p{i}"),
                    &format!("10.1.{}.{}", i / 200, i % 200 + 1),
                ),
            );
        }
        let changes = s.take_changes();
        assert!(changes.everything && changes.pods.is_empty());
    }
}
