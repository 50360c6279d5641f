//! NetworkPolicy's stage of the matrix in set form, for one column and family: what a
//! policy union allows, as the set of sources a destination's ingress admits or of
//! destinations a source's egress may reach. Peer sets and port matches are resolved
//! lazily and shared.

use super::MatrixPort;
use netfence_model::addr::Family;
use netfence_model::addr_index::AddrIndex;
use netfence_model::cluster::Endpoint;
use netfence_model::compile::PeerMatch;
use netfence_model::objects::PortSpec;
use netfence_model::ports::PortRef;
use netfence_model::{Allow, EndpointSet, Model, PeerRef, Protocol, UnionId};
use std::collections::HashMap;

pub(super) struct NpSets<'m> {
    model: &'m Model,
    port: &'m MatrixPort,
    family: Family,
    n: usize,
    addrs: &'m AddrIndex,
    full: EndpointSet,
    block_sets: HashMap<u32, EndpointSet>,
    /// Destinations whose named port `name` resolves to the column's port.
    named_sets: HashMap<String, EndpointSet>,
    /// [`NpSets::port_dsts`] by port list, for named columns (asked per destination).
    port_dsts: HashMap<Vec<PortSpec>, EndpointSet>,
}

impl<'m> NpSets<'m> {
    pub(super) fn new(
        model: &'m Model,
        port: &'m MatrixPort,
        family: Family,
        addrs: &'m AddrIndex,
    ) -> Self {
        let n = model.cluster.endpoints.len();
        NpSets {
            model,
            port,
            family,
            n,
            addrs,
            full: EndpointSet::full(n),
            block_sets: HashMap::new(),
            named_sets: HashMap::new(),
            port_dsts: HashMap::new(),
        }
    }

    fn peer_set(&mut self, peer: PeerRef) -> &EndpointSet {
        match peer {
            PeerRef::Any => &self.full,
            PeerRef::Peer(id) => match self.model.peer(id) {
                PeerMatch::Endpoints(s) => s,
                PeerMatch::Addrs(block) => {
                    let (index, family) = (self.addrs, self.family);
                    self.block_sets
                        .entry(id.0)
                        .or_insert_with(|| index.admitted(&block.addrs, family))
                }
            },
        }
    }

    /// Destinations whose container port named `name` (of the column's protocol) is the
    /// column's port. For a named column, a named rule port matches only its own name.
    fn named_set(&mut self, name: &str) -> &EndpointSet {
        let (model, port, n) = (self.model, self.port, self.n);
        self.named_sets.entry(name.to_string()).or_insert_with(|| {
            let mut s = EndpointSet::empty(n);
            for e in &model.cluster.endpoints {
                let resolved = e.destination_named_port(name, port.protocol);
                let hit = match &port.port {
                    PortRef::Number(p) => resolved == Some(*p),
                    PortRef::Name(col) => {
                        resolved.is_some()
                            && (col == name || resolved == e.named_port(col, port.protocol))
                    }
                };
                if hit {
                    s.insert(e.id.index());
                }
            }
            s
        })
    }

    /// Destinations where the column's port falls in a numeric spec.
    fn numeric_hits(&self, spec: &PortSpec) -> Option<EndpointSet> {
        let proto = self.port.protocol;
        match spec {
            PortSpec::AllOf(p) if *p == proto => Some(EndpointSet::full(self.n)),
            PortSpec::Range {
                protocol,
                start,
                end,
            } if *protocol == proto => match &self.port.port {
                PortRef::Number(p) => (start <= p && p <= end).then(|| EndpointSet::full(self.n)),
                PortRef::Name(col) => {
                    // A named column resolves on each destination.
                    let mut s = EndpointSet::empty(self.n);
                    for e in &self.model.cluster.endpoints {
                        if let Some(p) = e.named_port(col, proto) {
                            if *start <= p && p <= *end {
                                s.insert(e.id.index());
                            }
                        }
                    }
                    Some(s)
                }
            },
            _ => None,
        }
    }

    /// The destinations for which the allow's ports include the column's port.
    fn port_dsts(&mut self, allow: &Allow) -> EndpointSet {
        if allow.ports.is_empty() {
            return self.column_defined();
        }
        let mut out = EndpointSet::empty(self.n);
        for spec in &allow.ports {
            if let PortSpec::Named { protocol, name } = spec {
                if *protocol == self.port.protocol {
                    out.union_with(self.named_set(name));
                }
            } else if let Some(s) = self.numeric_hits(spec) {
                out.union_with(&s);
            }
        }
        out
    }

    /// Destinations on which the column's port exists (every one for a number; those
    /// defining the name for a named column).
    pub(super) fn column_defined(&self) -> EndpointSet {
        match &self.port.port {
            PortRef::Number(_) => EndpointSet::full(self.n),
            PortRef::Name(col) => {
                let mut s = EndpointSet::empty(self.n);
                for e in &self.model.cluster.endpoints {
                    if e.named_port(col, self.port.protocol).is_some() {
                        s.insert(e.id.index());
                    }
                }
                s
            }
        }
    }

    /// Which allows of union `u` hold the column's port on destination `d`, as bits:
    /// destinations of one union with the same bits admit the same sources.
    pub(super) fn ingress_pattern(&mut self, u: UnionId, d: &Endpoint) -> Vec<u64> {
        let union = self.model.union(u);
        let mut bits = vec![0u64; union.allows.len().div_ceil(64)];
        for (i, a) in union.allows.iter().enumerate() {
            let hit = match &self.port.port {
                PortRef::Number(p) => admits_number(a, d, self.port.protocol, *p),
                PortRef::Name(_) => match self.port_dsts.get(&a.ports) {
                    Some(s) => s.contains(d.id.index()),
                    None => {
                        let s = self.port_dsts(a);
                        let hit = s.contains(d.id.index());
                        self.port_dsts.insert(a.ports.clone(), s);
                        hit
                    }
                },
            };
            if hit {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    /// The sources union `u` admits into a destination whose [`NpSets::ingress_pattern`]
    /// is `pattern`.
    pub(super) fn ingress_allowed(&mut self, u: UnionId, pattern: &[u64]) -> EndpointSet {
        let mut row = EndpointSet::empty(self.n);
        for (i, a) in self.model.union(u).allows.iter().enumerate() {
            if pattern[i / 64] & (1 << (i % 64)) != 0 {
                row.union_with(self.peer_set(a.peer));
            }
        }
        row
    }

    /// The destinations union `u` lets its members send to.
    pub(super) fn egress_allowed(&mut self, u: UnionId) -> EndpointSet {
        let mut row = EndpointSet::empty(self.n);
        for a in &self.model.union(u).allows {
            let mut hits = self.port_dsts(a);
            hits.intersect_with(self.peer_set(a.peer));
            row.union_with(&hits);
        }
        row
    }
}

/// Does the allow admit the numeric column `proto`/`port` on destination `d`? The same
/// answer as `NpSets::port_dsts(allow).contains(d)`, without building a set.
fn admits_number(allow: &Allow, d: &Endpoint, proto: Protocol, port: u16) -> bool {
    allow.ports.is_empty()
        || allow.ports.iter().any(|spec| match spec {
            PortSpec::AllOf(p) => *p == proto,
            PortSpec::Range {
                protocol,
                start,
                end,
            } => *protocol == proto && *start <= port && port <= *end,
            PortSpec::Named { protocol, name } => {
                *protocol == proto && d.destination_named_port(name, proto) == Some(port)
            }
        })
}
