//! The full reachability matrix, computed with bitsets: per destination the set of
//! sources its ingress admits, per source the set of destinations its egress admits
//! (both shared by every member of a policy union), one bit transpose, one AND.

use netfence_model::addr::Family;
use netfence_model::cluster::Endpoint;
use netfence_model::compile::PeerMatch;
use netfence_model::objects::{Direction, PortSpec};
use netfence_model::ports::PortRef;
use netfence_model::{Allow, EndpointSet, IpBlock, Model, PeerRef, Protocol, SubjectIsolation};
use std::collections::HashMap;
use std::net::IpAddr;

/// A column of the matrix: a port number, or a container port name resolved on each
/// destination.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MatrixPort {
    pub port: PortRef,
    pub protocol: Protocol,
}

impl std::fmt::Display for MatrixPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// `allowed[port][src]` is the set of destinations `src` reaches on that port, over
/// endpoint ids of the model.
pub struct Matrix {
    pub ports: Vec<MatrixPort>,
    allowed: Vec<Vec<EndpointSet>>,
}

impl Matrix {
    pub fn compute(model: &Model, ports: &[MatrixPort]) -> Matrix {
        let families = model.families_in_use();
        let allowed = ports
            .iter()
            .map(|p| {
                if model.tiers.is_empty() {
                    compute_port(model, p, &families)
                } else {
                    compute_port_by_decision(model, p, &families)
                }
            })
            .collect();
        Matrix {
            ports: ports.to_vec(),
            allowed,
        }
    }

    pub fn allowed(&self, port: usize, src: usize, dst: usize) -> bool {
        self.allowed[port][src].contains(dst)
    }

    /// Destinations `src` reaches on column `port`.
    pub fn row(&self, port: usize, src: usize) -> &EndpointSet {
        &self.allowed[port][src]
    }
}

/// Per-port state: sets resolved lazily and shared.
struct PortContext<'m> {
    model: &'m Model,
    port: &'m MatrixPort,
    family: Family,
    n: usize,
    addrs: &'m AddrIndex,
    block_sets: HashMap<u32, EndpointSet>,
    /// Destinations whose named port `name` resolves to the column's port.
    named_sets: HashMap<String, EndpointSet>,
}

impl<'m> PortContext<'m> {
    fn peer_set(&mut self, peer: PeerRef) -> EndpointSet {
        match peer {
            PeerRef::Any => EndpointSet::full(self.n),
            PeerRef::Peer(id) => match self.model.peer(id) {
                PeerMatch::Endpoints(s) => s.clone(),
                PeerMatch::Addrs(block) => {
                    let (index, family, n) = (self.addrs, self.family, self.n);
                    self.block_sets
                        .entry(id.0)
                        .or_insert_with(|| index.block_set(block, family, n))
                        .clone()
                }
            },
        }
    }

    /// Destinations whose container port named `name` (of the column's protocol) is the
    /// column's port. For a named column, a named rule port matches only its own name.
    fn named_set(&mut self, name: &str) -> EndpointSet {
        let (model, port, n) = (self.model, self.port, self.n);
        self.named_sets
            .entry(name.to_string())
            .or_insert_with(|| {
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
            .clone()
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
                    out.union_with(&self.named_set(name));
                }
            } else if let Some(s) = self.numeric_hits(spec) {
                out.union_with(&s);
            }
        }
        out
    }

    /// Destinations on which the column's port exists (every one for a number; those
    /// defining the name for a named column).
    fn column_defined(&self) -> EndpointSet {
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
}

/// Endpoints by address, per family, so that the endpoints inside an ipBlock are found by
/// range search instead of testing every endpoint against every block.
struct AddrIndex {
    v4: Vec<(u32, usize)>,
    v6: Vec<(u128, usize)>,
    /// Endpoints whose address is not known yet (templates, pending pods).
    unknown: Vec<usize>,
}

impl AddrIndex {
    fn new(model: &Model) -> Self {
        let mut idx = AddrIndex {
            v4: Vec::new(),
            v6: Vec::new(),
            unknown: Vec::new(),
        };
        for e in &model.cluster.endpoints {
            if e.addrs.is_empty() {
                idx.unknown.push(e.id.index());
            }
            for a in &e.addrs {
                match a {
                    IpAddr::V4(x) => idx.v4.push((u32::from(*x), e.id.index())),
                    IpAddr::V6(x) => idx.v6.push((u128::from(*x), e.id.index())),
                }
            }
        }
        idx.v4.sort_unstable();
        idx.v6.sort_unstable();
        idx
    }

    /// The endpoints `block` admits over `family`: the same set as testing
    /// `block_admits_endpoint` on every endpoint.
    fn block_set(&self, block: &IpBlock, family: Family, n: usize) -> EndpointSet {
        fn fill<T: Copy + Ord>(sorted: &[(T, usize)], ranges: &[(T, T)], out: &mut EndpointSet) {
            for &(lo, hi) in ranges {
                let start = sorted.partition_point(|(a, _)| *a < lo);
                for &(a, i) in &sorted[start..] {
                    if a > hi {
                        break;
                    }
                    out.insert(i);
                }
            }
        }
        let mut s = EndpointSet::empty(n);
        match family {
            Family::V4 => fill(&self.v4, block.addrs.v4.ranges(), &mut s),
            Family::V6 => fill(&self.v6, block.addrs.v6.ranges(), &mut s),
        }
        if block.addrs.covers_family(family) {
            for &i in &self.unknown {
                s.insert(i);
            }
        }
        s
    }
}

fn compute_port(model: &Model, port: &MatrixPort, families: &[Family]) -> Vec<EndpointSet> {
    let cluster = &model.cluster;
    let n = cluster.endpoints.len();
    let addrs = AddrIndex::new(model);
    let mut result = vec![EndpointSet::empty(n); n];
    for &family in families {
        let mut ctx = PortContext {
            model,
            port,
            family,
            n,
            addrs: &addrs,
            block_sets: HashMap::new(),
            named_sets: HashMap::new(),
        };
        let defined = ctx.column_defined();
        let mut fam = EndpointSet::empty(n);
        for e in &cluster.endpoints {
            if e.speaks(family) {
                fam.insert(e.id.index());
            }
        }

        // Ingress: sources each destination admits. Rows depend only on the union, except
        // through named ports, which resolve on the destination itself, and on the node
        // (its hostNetwork pods are always admitted). Distinct rows are kept once in
        // `rows`; each destination points at its row.
        let mut rows: Vec<EndpointSet> = vec![EndpointSet::full(n)];
        const OPEN: usize = 0;
        let mut ingress_cache: HashMap<u32, usize> = HashMap::new();
        let mut pattern_rows: HashMap<(u32, Vec<u64>), usize> = HashMap::new();
        let mut with_node: HashMap<(usize, &str), usize> = HashMap::new();
        let mut row_of: Vec<usize> = Vec::with_capacity(n);
        let mut host_on_node: HashMap<&str, EndpointSet> = HashMap::new();
        // Sources that are a destination's own node (its ingress always admits them).
        for e in &cluster.endpoints {
            if let Some(node) = e.as_node() {
                host_on_node
                    .entry(node)
                    .or_insert_with(|| EndpointSet::empty(n))
                    .insert(e.id.index());
            }
        }
        for d in &cluster.endpoints {
            let row = match model.subject_isolation(d.id, Direction::Ingress) {
                SubjectIsolation::HostNetwork | SubjectIsolation::Open => {
                    row_of.push(OPEN);
                    continue;
                }
                SubjectIsolation::Isolated(u) if matches!(port.port, PortRef::Number(_)) => {
                    // A numeric column: the row depends on the union and on which of its
                    // allows admit the port on this destination (named ports resolve on
                    // it), so rows are shared per (union, admitting allows).
                    let PortRef::Number(number) = port.port else {
                        unreachable!("matched a numeric column")
                    };
                    let union = model.union(u);
                    let mut key = vec![0u64; union.allows.len().div_ceil(64)];
                    for (i, a) in union.allows.iter().enumerate() {
                        if admits_number(a, d, port.protocol, number) {
                            key[i / 64] |= 1 << (i % 64);
                        }
                    }
                    let key = (u.0, key);
                    match pattern_rows.get(&key) {
                        Some(&r) => r,
                        None => {
                            let mut row = EndpointSet::empty(n);
                            for (i, a) in union.allows.iter().enumerate() {
                                if key.1[i / 64] & (1 << (i % 64)) != 0 {
                                    row.union_with(&ctx.peer_set(a.peer));
                                }
                            }
                            rows.push(row);
                            pattern_rows.insert(key, rows.len() - 1);
                            rows.len() - 1
                        }
                    }
                }
                SubjectIsolation::Isolated(u) => {
                    let union = model.union(u);
                    let dependent = union.allows.iter().any(Allow::has_named_ports)
                        || matches!(port.port, PortRef::Name(_));
                    match ingress_cache.get(&u.0).filter(|_| !dependent) {
                        Some(&r) => r,
                        None => {
                            let mut row = EndpointSet::empty(n);
                            for a in &union.allows {
                                if ctx.port_dsts(a).contains(d.id.index()) {
                                    row.union_with(&ctx.peer_set(a.peer));
                                }
                            }
                            rows.push(row);
                            if !dependent {
                                ingress_cache.insert(u.0, rows.len() - 1);
                            }
                            rows.len() - 1
                        }
                    }
                }
            };
            let hosts = d
                .node
                .as_deref()
                .and_then(|node| host_on_node.get_key_value(node));
            row_of.push(match hosts {
                None => row,
                Some((node, h)) => *with_node.entry((row, node)).or_insert_with(|| {
                    let mut r = rows[row].clone();
                    r.union_with(h);
                    rows.push(r);
                    rows.len() - 1
                }),
            });
        }
        let ingress_rows: Vec<&EndpointSet> = row_of.iter().map(|&r| &rows[r]).collect();
        let admitted_by = transpose_rows(&ingress_rows, n);
        drop(ingress_rows);
        drop(rows);

        // Egress: destinations each source may send to; shared per union.
        let mut egress_cache: HashMap<u32, EndpointSet> = HashMap::new();
        let open = EndpointSet::full(n);
        for s in &cluster.endpoints {
            if !fam.contains(s.id.index()) {
                continue;
            }
            let si = s.id.index();
            let mut row = match model.subject_isolation(s.id, Direction::Egress) {
                SubjectIsolation::HostNetwork | SubjectIsolation::Open => open.clone(),
                SubjectIsolation::Isolated(u) => egress_cache
                    .entry(u.0)
                    .or_insert_with(|| {
                        let mut row = EndpointSet::empty(n);
                        for a in &model.union(u).allows {
                            let mut hits = ctx.peer_set(a.peer);
                            hits.intersect_with(&ctx.port_dsts(a));
                            row.union_with(&hits);
                        }
                        row
                    })
                    .clone(),
            };
            row.intersect_with(&admitted_by[si]);
            row.intersect_with(&fam);
            row.intersect_with(&defined);
            result[si].union_with(&row);
        }
    }
    for (i, row) in result.iter_mut().enumerate() {
        row.insert(i);
    }
    result
}

/// The column with tiered policies in the model: every ordered pair decided by the
/// model's [`Model::decide`], both directions, per family. Quadratic in the endpoints;
/// the bitset form of the tiers is still to come.
fn compute_port_by_decision(
    model: &Model,
    port: &MatrixPort,
    families: &[Family],
) -> Vec<EndpointSet> {
    use netfence_model::Party;
    let cluster = &model.cluster;
    let n = cluster.endpoints.len();
    let mut result = vec![EndpointSet::empty(n); n];
    for d in &cluster.endpoints {
        let number = match &port.port {
            PortRef::Number(p) => Some(*p),
            PortRef::Name(col) => d.named_port(col, port.protocol),
        };
        let Some(number) = number else { continue };
        let probe = netfence_model::PortSet::single(port.protocol, number);
        for s in &cluster.endpoints {
            let allowed = families.iter().any(|&f| {
                s.speaks(f)
                    && d.speaks(f)
                    && probe.is_subset(
                        &model
                            .decide(
                                Party::Endpoint(s.id),
                                Direction::Egress,
                                Party::Endpoint(d.id),
                                f,
                            )
                            .allowed,
                    )
                    && probe.is_subset(
                        &model
                            .decide(
                                Party::Endpoint(d.id),
                                Direction::Ingress,
                                Party::Endpoint(s.id),
                                f,
                            )
                            .allowed,
                    )
            });
            if allowed {
                result[s.id.index()].insert(d.id.index());
            }
        }
    }
    for (i, row) in result.iter_mut().enumerate() {
        row.insert(i);
    }
    result
}

/// Does the allow admit the numeric column `proto`/`port` on destination `d`? The same
/// answer as `PortContext::port_dsts(allow).contains(d)`, without building a set.
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

/// Transposes an n x n bit matrix given as rows, 64 x 64 blocks at a time.
pub fn transpose(rows: &[EndpointSet], n: usize) -> Vec<EndpointSet> {
    let refs: Vec<&EndpointSet> = rows.iter().collect();
    transpose_rows(&refs, n)
}

/// [`transpose`] of rows that may be shared between several row positions.
fn transpose_rows(rows: &[&EndpointSet], n: usize) -> Vec<EndpointSet> {
    let mut out = vec![EndpointSet::empty(n); n];
    let blocks = n.div_ceil(64);
    let mut block = [0u64; 64];
    // Output rows block by block: the 64 rows written stay in cache, and the input rows,
    // often shared between positions, are read one word column at a time.
    for bj in 0..blocks {
        for bi in 0..blocks {
            let mut any = 0u64;
            for (k, slot) in block.iter_mut().enumerate() {
                let r = bi * 64 + k;
                *slot = if r < n { rows[r].words()[bj] } else { 0 };
                any |= *slot;
            }
            // An empty block transposes to an empty block, which `out` already holds.
            if any == 0 {
                continue;
            }
            transpose64(&mut block);
            for (k, word) in block.iter().enumerate() {
                let r = bj * 64 + k;
                if r < n {
                    out[r].words_mut()[bi] = *word;
                }
            }
        }
    }
    out
}

/// In-place transpose of a 64 x 64 bit block, bit j of word i being element (i, j).
fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k + j] ^= t;
            a[k] ^= t << j;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_definition() {
        let n = 150;
        let mut x: u64 = 12345;
        let rows: Vec<EndpointSet> = (0..n)
            .map(|i| {
                let mut row = EndpointSet::empty(n);
                for j in 0..n {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if (x >> 33) % 3 == 1 || i == j {
                        row.insert(j);
                    }
                }
                row
            })
            .collect();
        let t = transpose(&rows, n);
        for (i, row) in rows.iter().enumerate() {
            for (j, col) in t.iter().enumerate() {
                assert_eq!(row.contains(j), col.contains(i), "({i},{j})");
            }
        }
    }
}
