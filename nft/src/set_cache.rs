//! Set contents kept between renders while the model is patched in place, and edited
//! from a pod's before/after state instead of being built again.

use crate::names::{self, Content, NameCollision};
use crate::ruleset::{Element, Elements};
use netfence_model::{EndpointState, Family, PeerId, PodChange, Protocol};
use std::collections::HashMap;
use std::sync::Arc;

/// What a cached set's elements were computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SetSource {
    /// The pods of a selector peer.
    Peer(PeerId),
    /// Every pod.
    AllPods,
    /// Every pod but those of a selector peer.
    AllPodsBut(PeerId),
    /// `addr . proto . port` of the pods with that named port.
    NamedPort(String, Protocol),
    /// An ipBlock: fixed until the policies change.
    Block,
    /// A tiered policy's peer or named port: built again with the model (pod events
    /// recompile a model with tiers).
    Tier,
}

struct CachedSet {
    /// What the name was derived from: a later render asking for the same name with
    /// other content is a collision, not a cache hit.
    content: Content,
    source: SetSource,
    family: Family,
    elements: Elements,
}

impl CachedSet {
    /// The elements a pod in state `s` puts in this set.
    fn contribution(&self, s: &EndpointState, out: &mut Vec<Element>) {
        if !s.on_pod_network() {
            // A hostNetwork pod is its node: in no set of pods.
            return;
        }
        let addrs = s.addrs.iter().filter(|a| Family::of(a) == self.family);
        match &self.source {
            SetSource::Peer(p) if s.in_peer(*p) => out.extend(addrs.map(|a| Element::Addr(*a))),
            SetSource::AllPods => out.extend(addrs.map(|a| Element::Addr(*a))),
            SetSource::AllPodsBut(p) if !s.in_peer(*p) => {
                out.extend(addrs.map(|a| Element::Addr(*a)))
            }
            SetSource::NamedPort(name, proto) => {
                let Some(port) = s.destination_named_port(name, *proto) else {
                    return;
                };
                out.extend(addrs.map(|a| Element::AddrProtoPort(*a, *proto, port)));
            }
            _ => {}
        }
    }
}

/// Set contents kept from one render to the next while the model is patched in place
/// (`Model::upsert_pod`): a pod event edits the sets the pod was or is in, and an
/// unchanged set stays the very same allocation (so the diff skips it). Clear it when
/// the model is recompiled: peer ids change meaning.
#[derive(Default)]
pub struct SetCache {
    sets: HashMap<String, CachedSet>,
}

impl SetCache {
    pub fn clear(&mut self) {
        self.sets.clear();
    }

    /// Forgets the tiered policies' sets (after `Model::replace_tier_policies`).
    pub fn forget_tiers(&mut self) {
        self.sets.retain(|_, s| s.source != SetSource::Tier);
    }

    /// Brings the sets in step with one pod change of `model` (patched by it).
    pub fn apply(&mut self, change: &PodChange) {
        if change.is_empty() {
            return;
        }
        // Tiered peers and named ports are built again with the tiers (the model
        // recompiles them on every pod change).
        self.forget_tiers();
        if change.shared_addrs {
            // Elements are addresses, not pods: with an address held twice, removing
            // it for one pod could be wrong for the other. Build these sets again.
            self.sets
                .retain(|_, s| matches!(s.source, SetSource::Block));
            return;
        }
        let (mut old, mut new) = (Vec::new(), Vec::new());
        for set in self.sets.values_mut() {
            old.clear();
            new.clear();
            if let Some(s) = &change.before {
                set.contribution(s, &mut old);
            }
            if let Some(s) = &change.after {
                set.contribution(s, &mut new);
            }
            let gone: Vec<&Element> = old.iter().filter(|e| !new.contains(e)).collect();
            let added: Vec<&Element> = new.iter().filter(|e| !old.contains(e)).collect();
            if gone.is_empty() && added.is_empty() {
                continue;
            }
            let elements = Arc::make_mut(&mut set.elements);
            for e in gone {
                elements.remove(e);
            }
            for e in added {
                elements.insert(e.clone());
            }
        }
    }

    /// The cached elements of `name`, if it was cached for the same `content`.
    pub(crate) fn get(
        &self,
        name: &str,
        content: &Content,
    ) -> Result<Option<&Elements>, NameCollision> {
        match self.sets.get(name) {
            Some(s) => names::check(name, &s.content, content).map(|()| Some(&s.elements)),
            None => Ok(None),
        }
    }

    pub(crate) fn insert(
        &mut self,
        name: &str,
        content: Content,
        source: SetSource,
        family: Family,
        elements: Elements,
    ) {
        self.sets.insert(
            name.to_string(),
            CachedSet {
                content,
                source,
                family,
                elements,
            },
        );
    }

    /// Forgets the sets a render no longer uses (peers gone stay out of the cache).
    pub(crate) fn keep_only(&mut self, used: impl Fn(&str) -> bool) {
        self.sets.retain(|name, _| used(name));
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}
