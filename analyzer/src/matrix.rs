//! The full reachability matrix, computed with bitsets: per destination the set of
//! sources its ingress admits, per source the set of destinations its egress admits,
//! one bit transpose, one AND. Each row comes from the model's set form of
//! `Model::decide` (`netfence_model::decision_sets`), tiers included, and is shared by
//! every endpoint whose stages give it the same answer.

mod by_decision;
pub mod connections;
mod np_sets;
pub mod port_classes;
mod transpose;

use netfence_model::addr::Family;
use netfence_model::addr_index::AddrIndex;
use netfence_model::decision_sets::DecisionSets;
use netfence_model::objects::Direction;
use netfence_model::ports::PortRef;
use netfence_model::tier::Tier;
use netfence_model::tier_sets::ProbedPort;
use netfence_model::tiers::TierStackId;
use netfence_model::{EndpointId, EndpointSet, Model, Protocol, UnionId};
use np_sets::NpSets;
pub use transpose::transpose;
use transpose::transpose_rows;

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
    /// Columns are independent, so they are computed on the machine's cores, each
    /// thread a run of neighbouring columns, joined back in order.
    pub fn compute(model: &Model, ports: &[MatrixPort]) -> Matrix {
        let families = model.families_in_use();
        let addrs = AddrIndex::new(&model.cluster);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let column = |p: &MatrixPort| compute_port(model, p, &families, &addrs);
        let allowed: Vec<Vec<EndpointSet>> = if threads < 2 || ports.len() < 2 {
            ports.iter().map(column).collect()
        } else {
            let run = ports.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let workers: Vec<_> = ports
                    .chunks(run)
                    .map(|chunk| {
                        let column = &column;
                        scope.spawn(move || chunk.iter().map(column).collect::<Vec<_>>())
                    })
                    .collect();
                workers
                    .into_iter()
                    // A panic in a worker is a bug in the model: carry it to the caller.
                    .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        Matrix {
            ports: ports.to_vec(),
            allowed,
        }
    }

    /// The same matrix with every ordered pair decided by `Model::decide`: quadratic in
    /// the endpoints, the reference [`Matrix::compute`] is tested against.
    pub fn compute_by_decision(model: &Model, ports: &[MatrixPort]) -> Matrix {
        let families = model.families_in_use();
        Matrix {
            ports: ports.to_vec(),
            allowed: ports
                .iter()
                .map(|p| by_decision::compute_port(model, p, &families))
                .collect(),
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

/// What an ingress row depends on: the stages of the destination with, per stage, the
/// bits of the elements that hold the column's port on it, and its node when
/// NetworkPolicy isolates it (the own-node exception). Destinations with equal keys
/// admit the same sources.
#[derive(Clone, PartialEq, Eq, Hash)]
struct IngressKey<'m> {
    admin: Option<(TierStackId, Vec<u64>)>,
    np: Option<(UnionId, Vec<u64>, Option<&'m str>)>,
    baseline: Option<(TierStackId, Vec<u64>)>,
}

/// What an egress row depends on: the source's stages (ports are matched on each
/// destination, so no bits of the source's own).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct EgressKey {
    admin: Option<TierStackId>,
    np: Option<UnionId>,
    baseline: Option<TierStackId>,
}

/// Per destination, the sources its ingress admits; rows kept once per key.
fn ingress_rows<'m>(
    model: &'m Model,
    np: &mut NpSets<'m>,
    sets: &mut DecisionSets<'m>,
) -> (Vec<EndpointSet>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut ids: foldhash::HashMap<IngressKey<'m>, usize> = foldhash::HashMap::default();
    let mut row_of = Vec::with_capacity(model.cluster.endpoints.len());
    for d in &model.cluster.endpoints {
        let d_id = d.id;
        let stack = |tier| model.tiers.stack_of(d_id, tier, Direction::Ingress);
        let union = model.subject_isolation(d_id, Direction::Ingress).union();
        let key = IngressKey {
            admin: stack(Tier::Admin).map(|s| (s.id, sets.tiers().pattern(s, d_id))),
            np: union.map(|u| {
                let own = d
                    .node
                    .as_deref()
                    .filter(|_| !sets.own_node(d_id).is_empty());
                (u, np.ingress_pattern(u, d), own)
            }),
            // NetworkPolicy decides everything that reaches it: no Baseline after it.
            baseline: stack(Tier::Baseline)
                .filter(|_| union.is_none())
                .map(|s| (s.id, sets.tiers().pattern(s, d_id))),
        };
        let next = rows.len();
        let r = *ids.entry(key).or_insert(next);
        if r == next {
            rows.push(sets.decide(d_id, Direction::Ingress, |u| {
                let pattern = np.ingress_pattern(u, d);
                np.ingress_allowed(u, &pattern)
            }));
        }
        row_of.push(r);
    }
    (rows, row_of)
}

fn compute_port(
    model: &Model,
    port: &MatrixPort,
    families: &[Family],
    addrs: &AddrIndex,
) -> Vec<EndpointSet> {
    let cluster = &model.cluster;
    let n = cluster.endpoints.len();
    let probe = ProbedPort {
        protocol: port.protocol,
        port: port.port.clone(),
    };
    let mut result = vec![EndpointSet::empty(n); n];
    for &family in families {
        let mut np = NpSets::new(model, port, family, addrs);
        let mut sets = DecisionSets::new(model, family, probe.clone(), addrs);
        let defined = np.column_defined();
        let mut fam = EndpointSet::empty(n);
        for e in &cluster.endpoints {
            if e.speaks(family) {
                fam.insert(e.id.index());
            }
        }
        let admitted_by = {
            let (rows, row_of) = ingress_rows(model, &mut np, &mut sets);
            let refs: Vec<&EndpointSet> = row_of.iter().map(|&r| &rows[r]).collect();
            transpose_rows(&refs, n)
        };
        // Egress: destinations each source may send to, shared per key.
        let mut egress: foldhash::HashMap<EgressKey, EndpointSet> = foldhash::HashMap::default();
        for s in &cluster.endpoints {
            let si = s.id.index();
            if !fam.contains(si) {
                continue;
            }
            let stack = |tier| {
                model
                    .tiers
                    .stack_of(EndpointId(si as u32), tier, Direction::Egress)
                    .map(|st| st.id)
            };
            let union = model.subject_isolation(s.id, Direction::Egress).union();
            let key = EgressKey {
                admin: stack(Tier::Admin),
                np: union,
                baseline: stack(Tier::Baseline).filter(|_| union.is_none()),
            };
            let mut row = egress
                .entry(key)
                .or_insert_with(|| sets.decide(s.id, Direction::Egress, |u| np.egress_allowed(u)))
                .clone();
            row.intersect_with(&admitted_by[si]);
            row.intersect_with(&fam);
            row.intersect_with(&defined);
            result[si].union_with(&row);
        }
    }
    // A pod reaching itself is not subject to any policy.
    for (i, row) in result.iter_mut().enumerate() {
        row.insert(i);
    }
    result
}
