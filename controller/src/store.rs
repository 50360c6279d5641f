//! The objects the controller enforces from, kept decoded. Each watched object is decoded
//! once when it changes; a malformed update keeps the last good version of that object
//! enforced (one bad object never takes away protection that was in place).

use netfence_model::manifest::decode_object;
use netfence_model::objects::{Pod, WorkloadKind};
use netfence_model::tier::TierKind;
use netfence_model::{ManifestError, Object, Source};
use std::collections::{BTreeMap, HashMap};

/// Past this many pod events in one batch, recompiling is cheaper than patching.
const MAX_PATCHES: usize = 300;

/// A pod event, as the model patches it.
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

    fn all(&mut self) {
        self.everything = true;
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

#[derive(Default)]
pub struct ObjectStore {
    objects: BTreeMap<Key, Object>,
    /// During a relist of a kind: the objects seen so far.
    relisting: HashMap<Kind, BTreeMap<Key, Object>>,
    /// Bumped on every change, so the reconciler knows there is work.
    pub generation: u64,
    changes: Changes,
    /// This node's pod CIDRs (`spec.podCIDRs`), once read: the default range of the
    /// unprogrammed-pod guard.
    node_pod_cidrs: Option<Vec<ipnet::IpNet>>,
}

/// What happened to an object handed to the store.
pub enum Stored {
    Changed,
    Unchanged,
    /// Rejected; the previous version (if any) stays in force.
    Invalid(Vec<ManifestError>),
}

fn key_of(kind: Kind, value: &serde_json::Value) -> Key {
    let meta = &value["metadata"];
    (
        kind,
        meta["namespace"].as_str().unwrap_or_default().to_string(),
        meta["name"].as_str().unwrap_or_default().to_string(),
    )
}

fn decode(
    kind: Kind,
    value: serde_json::Value,
    source: &str,
) -> Result<Option<Object>, Vec<ManifestError>> {
    let mut value = value;
    if let Some(map) = value.as_object_mut() {
        map.entry("kind")
            .or_insert_with(|| serde_json::Value::String(kind.as_str().to_string()));
    }
    let yaml: serde_yaml::Value = match serde_json::from_value(value) {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![ManifestError {
                location: Source::new(source, 0),
                object: None,
                message: e.to_string(),
            }])
        }
    };
    let parsed = decode_object(yaml, Source::new(source, 0), "default");
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    Ok(parsed.objects.into_iter().next())
}

impl ObjectStore {
    /// An object was added or modified.
    pub fn apply(&mut self, kind: Kind, value: serde_json::Value) -> Stored {
        let key = key_of(kind, &value);
        match decode(kind, value, "cluster") {
            Err(errors) => {
                // A relist must not drop the last good version of an invalid object.
                if let (Some(buffer), Some(old)) =
                    (self.relisting.get_mut(&kind), self.objects.get(&key))
                {
                    buffer.insert(key, old.clone());
                }
                Stored::Invalid(errors)
            }
            Ok(None) => Stored::Unchanged,
            Ok(Some(obj)) => {
                if let Some(buffer) = self.relisting.get_mut(&kind) {
                    buffer.insert(key.clone(), obj.clone());
                }
                if self.objects.get(&key) == Some(&obj) {
                    return Stored::Unchanged;
                }
                match &obj {
                    Object::Pod(p) => self.changes.pod(PodEvent::Upsert(p.clone())),
                    _ => self.changes.all(),
                }
                self.objects.insert(key, obj);
                self.generation += 1;
                Stored::Changed
            }
        }
    }

    pub fn delete(&mut self, kind: Kind, value: &serde_json::Value) -> Stored {
        let key = key_of(kind, value);
        if let Some(buffer) = self.relisting.get_mut(&kind) {
            buffer.remove(&key);
        }
        if self.objects.remove(&key).is_some() {
            if kind == Kind::Pod {
                self.changes.pod(PodEvent::Delete {
                    namespace: key.1,
                    name: key.2,
                });
            } else {
                self.changes.all();
            }
            self.generation += 1;
            Stored::Changed
        } else {
            Stored::Unchanged
        }
    }

    /// A relist of `kind` starts: objects not seen again by `finish_relist` go away.
    pub fn start_relist(&mut self, kind: Kind) {
        self.relisting.insert(kind, BTreeMap::new());
    }

    /// The relist of `kind` is complete: its objects are exactly those seen since
    /// `start_relist` (plus the last good versions of those that were invalid).
    pub fn finish_relist(&mut self, kind: Kind) {
        let Some(seen) = self.relisting.remove(&kind) else {
            return;
        };
        let before = self.objects.len();
        let stale: Vec<Key> = self
            .objects
            .keys()
            .filter(|k| k.0 == kind && !seen.contains_key(*k))
            .cloned()
            .collect();
        for k in &stale {
            self.objects.remove(k);
        }
        if !stale.is_empty() || before != self.objects.len() {
            self.changes.all();
            self.generation += 1;
        }
    }

    /// Replaces everything (standalone mode reloads whole directories).
    pub fn replace_all(&mut self, objects: Vec<Object>) {
        let mut next = BTreeMap::new();
        for o in objects {
            next.insert(object_key(&o), o);
        }
        if next != self.objects {
            self.objects = next;
            self.changes.all();
            self.generation += 1;
        }
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

fn object_key(o: &Object) -> Key {
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
    use serde_json::json;

    fn pod(name: &str, ip: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "metadata": {"name": name, "namespace": "a"}, "status": {"podIP": ip}})
    }

    #[test]
    fn a_bad_update_keeps_the_last_good_version() {
        let mut s = ObjectStore::default();
        assert!(matches!(
            s.apply(Kind::Pod, pod("p", "10.0.0.1")),
            Stored::Changed
        ));
        assert!(matches!(
            s.apply(Kind::Pod, pod("p", "10.0.0.1")),
            Stored::Unchanged
        ));
        assert!(matches!(
            s.apply(Kind::Pod, pod("p", "not-an-ip")),
            Stored::Invalid(_)
        ));
        assert_eq!(s.len(), 1);
        let Object::Pod(p) = &s.objects()[0] else {
            panic!()
        };
        assert_eq!(p.addrs[0].to_string(), "10.0.0.1");
    }

    #[test]
    fn a_relist_drops_objects_not_seen_again() {
        let mut s = ObjectStore::default();
        s.apply(Kind::Pod, pod("p", "10.0.0.1"));
        s.apply(Kind::Pod, pod("q", "10.0.0.2"));
        let g = s.generation;
        s.start_relist(Kind::Pod);
        s.apply(Kind::Pod, pod("q", "10.0.0.2"));
        s.finish_relist(Kind::Pod);
        assert_eq!(s.len(), 1);
        assert!(s.generation > g);
    }
}
