//! The matrix's set form against `Model::decide`, on random clusters with both tiers
//! (`netfence-synth`'s small tiered clusters: every action, equal priorities, namespaces,
//! pods, networks and nodes peers, named ports and ranges, hostNetwork and Pending pods,
//! templates, dual stack). Two checks per cluster:
//! - `Matrix::compute` equals `Matrix::compute_by_decision` (decide per pair) on every
//!   column, numeric and named;
//! - the model's `DecisionSets::decide` equals `Model::decide` for every subject,
//!   direction, family and other end, before the matrix masks anything.
//!
//! Where `decide` finds the outcome unknown (a template or Pending pod against a
//! `networks` peer that covers only part of the address space), the matrix keeps its
//! closed-world reading (the address matches nothing) and is not held to `decide`.
//!
//! Seeds: `NETFENCE_TIERS_SEED_START` (default 1), `NETFENCE_TIERS_SEEDS` (default 150).

use netfence_analyzer::{Matrix, MatrixPort};
use netfence_model::addr::Family;
use netfence_model::addr_index::AddrIndex;
use netfence_model::decision_sets::DecisionSets;
use netfence_model::objects::Direction;
use netfence_model::ports::PortRef;
use netfence_model::tier_sets::ProbedPort;
use netfence_model::{parse_manifest, Cluster, EndpointSet, Model, Party, PortSet, Protocol};
use netfence_synth::{generate, SynthConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn columns() -> Vec<MatrixPort> {
    let mut out: Vec<MatrixPort> = [
        (Protocol::Tcp, 80),
        (Protocol::Tcp, 8080),
        (Protocol::Tcp, 443),
        (Protocol::Tcp, 53),
        (Protocol::Tcp, 5432),
        (Protocol::Tcp, 9090),
        (Protocol::Udp, 53),
        (Protocol::Udp, 8125),
        (Protocol::Sctp, 3868),
    ]
    .into_iter()
    .map(|(protocol, p)| MatrixPort {
        port: PortRef::Number(p),
        protocol,
    })
    .collect();
    for (protocol, name) in [
        (Protocol::Tcp, "http"),
        (Protocol::Udp, "dns"),
        (Protocol::Tcp, "metrics"),
        (Protocol::Tcp, "db"),
        (Protocol::Sctp, "diameter"),
    ] {
        out.push(MatrixPort {
            port: PortRef::Name(name.into()),
            protocol,
        });
    }
    out
}

fn model_of(seed: u64) -> (String, Model) {
    let text = generate(&SynthConfig::small_tiered(seed));
    let parsed = parse_manifest("synth.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "seed {seed}: {:?}", parsed.errors);
    (text, Model::compile(Cluster::build(parsed.objects)))
}

/// Writes the failing cluster where it can be read, and says how to rerun it.
fn fail(seed: u64, text: &str, what: String) -> ! {
    let path = std::env::temp_dir().join(format!("netfence-tiers-matrix-{seed}.yaml"));
    let _ = std::fs::write(&path, text);
    panic!(
        "seed {seed}: {what}\ncluster written to {}\nrerun: NETFENCE_TIERS_SEED_START={seed} \
         NETFENCE_TIERS_SEEDS=1 cargo test -p netfence-analyzer --test tiers_matrix",
        path.display()
    );
}

#[test]
fn the_matrix_agrees_with_decide_on_random_tiered_clusters() {
    let start = env("NETFENCE_TIERS_SEED_START", 1);
    let seeds = env("NETFENCE_TIERS_SEEDS", 150);
    let cols = columns();
    let (mut tiered, mut allowed, mut denied) = (0, 0, 0);
    for seed in start..start + seeds {
        let (text, model) = model_of(seed);
        if !model.tiers.is_empty() {
            tiered += 1;
        }
        let fast = Matrix::compute(&model, &cols);
        let slow = Matrix::compute_by_decision(&model, &cols);
        let n = model.cluster.endpoints.len();
        for (c, col) in cols.iter().enumerate() {
            for s in 0..n {
                for d in 0..n {
                    let want = slow.allowed(c, s, d);
                    if fast.allowed(c, s, d) != want && !unknown_cell(&model, s, d, col) {
                        fail(
                            seed,
                            &text,
                            format!(
                                "matrix {} -> {} on {col}: set form {}, decide {want}",
                                model.cluster.endpoint_name(model.cluster.endpoints[s].id),
                                model.cluster.endpoint_name(model.cluster.endpoints[d].id),
                                !want
                            ),
                        );
                    }
                    if s != d {
                        if want {
                            allowed += 1;
                        } else {
                            denied += 1;
                        }
                    }
                }
            }
        }
    }
    if seeds >= 100 {
        assert!(
            tiered * 10 >= seeds * 8,
            "{tiered} of {seeds} clusters had tiers"
        );
        assert!(
            allowed > 10_000 && denied > 10_000,
            "{allowed} allowed, {denied} denied"
        );
    }
}

/// Does `decide` leave the column's port unknown for source `s` and destination `d`
/// (either direction, any family)?
fn unknown_cell(model: &Model, s: usize, d: usize, col: &MatrixPort) -> bool {
    let cluster = &model.cluster;
    let (src, dst) = (&cluster.endpoints[s], &cluster.endpoints[d]);
    let probe = ProbedPort {
        protocol: col.protocol,
        port: col.port.clone(),
    };
    let Some(p) = probe.at(dst) else {
        return false;
    };
    let (a, b) = (Party::Endpoint(src.id), Party::Endpoint(dst.id));
    model.shared_families(a, b).into_iter().any(|f| {
        model
            .decide(a, Direction::Egress, b, f)
            .unknown
            .contains(col.protocol, p)
            || model
                .decide(b, Direction::Ingress, a, f)
                .unknown
                .contains(col.protocol, p)
    })
}

/// NetworkPolicy's stage pair by pair from the model, for `DecisionSets::decide`.
fn np_allowed_pairwise(
    model: &Model,
    u: netfence_model::UnionId,
    subject: usize,
    d: Direction,
    family: Family,
    probe: &ProbedPort,
) -> EndpointSet {
    let cluster = &model.cluster;
    let mut out = EndpointSet::empty(cluster.endpoints.len());
    for o in &cluster.endpoints {
        let dst = match d {
            Direction::Ingress => &cluster.endpoints[subject],
            Direction::Egress => o,
        };
        let Some(p) = probe.at(dst) else { continue };
        if model
            .union_allowed(u, Party::Endpoint(o.id), family, Some(dst))
            .contains(probe.protocol, p)
        {
            out.insert(o.id.index());
        }
    }
    out
}

#[test]
fn decision_sets_agree_with_decide_end_by_end() {
    let start = env("NETFENCE_TIERS_SEED_START", 1);
    let seeds = env("NETFENCE_TIERS_SEEDS", 150).min(80);
    let mut checked = 0usize;
    for seed in start..start + seeds {
        let (text, model) = model_of(seed);
        let cluster = &model.cluster;
        let addrs = AddrIndex::new(cluster);
        for col in columns() {
            let probe = ProbedPort {
                protocol: col.protocol,
                port: col.port.clone(),
            };
            for family in Family::ALL {
                let mut sets = DecisionSets::new(&model, family, probe.clone(), &addrs);
                for s in &cluster.endpoints {
                    for d in Direction::BOTH {
                        let row = sets.decide(s.id, d, |u| {
                            np_allowed_pairwise(&model, u, s.id.index(), d, family, &probe)
                        });
                        for o in &cluster.endpoints {
                            if o.id == s.id {
                                continue;
                            }
                            let dst = match d {
                                Direction::Ingress => s,
                                Direction::Egress => o,
                            };
                            let Some(p) = probe.at(dst) else { continue };
                            let decision = model.decide(
                                Party::Endpoint(s.id),
                                d,
                                Party::Endpoint(o.id),
                                family,
                            );
                            if decision.unknown.contains(probe.protocol, p) {
                                continue;
                            }
                            let want =
                                PortSet::single(probe.protocol, p).is_subset(&decision.allowed);
                            if row.contains(o.id.index()) != want {
                                fail(
                                    seed,
                                    &text,
                                    format!(
                                        "{d} of {} with {} over {family} on {col}: set form {}, \
                                         decide {want}",
                                        cluster.endpoint_name(s.id),
                                        cluster.endpoint_name(o.id),
                                        !want
                                    ),
                                );
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 0);
}
