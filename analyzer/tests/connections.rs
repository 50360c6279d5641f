//! `Connections` (every pair's allowed port set, decided once per port class) against
//! the slow answer: `reach` with no port for every ordered pair, the allowed ports of
//! every shared address family united. Random synth clusters with both tiers, named
//! ports, endPort ranges, ipBlocks, hostNetwork and Pending pods, dual stack.
//!
//! Seeds: `NETFENCE_CONN_SEED_START` (default 1), `NETFENCE_CONN_SEEDS` (default 60).

use netfence_analyzer::{reach, ConnectionText, Connections, Flow, Party};
use netfence_model::{parse_manifest, Cluster, Model, PortSet};
use netfence_synth::{generate, SynthConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What reach says of the pair: the ports surely allowed, and those that might be (the
/// unknown ones too: the matrix, closed-world, may count those either way).
fn slow(model: &Model, s: usize, d: usize) -> (PortSet, PortSet) {
    let cluster = &model.cluster;
    let r = reach(
        model,
        Flow {
            from: Party::Endpoint(cluster.endpoints[s].id),
            to: Party::Endpoint(cluster.endpoints[d].id),
            protocol: None,
            port: None,
            family: None,
        },
    );
    let (mut sure, mut possible) = (PortSet::empty(), PortSet::empty());
    for f in &r.families {
        sure.add(&f.allowed_ports);
        let maybe = |d: &netfence_analyzer::DirectionReach| {
            let mut p = d.allowed_ports.clone();
            p.add(&d.unknown_ports);
            p
        };
        possible.add(&maybe(&f.egress).intersection(&maybe(&f.ingress)));
    }
    (sure, possible)
}

#[test]
fn connections_agree_with_reach_on_random_tiered_clusters() {
    let start = env("NETFENCE_CONN_SEED_START", 1);
    let seeds = env("NETFENCE_CONN_SEEDS", 60);
    let (mut partial, mut none, mut all) = (0, 0, 0);
    let mut tiered = 0;
    for seed in start..start + seeds {
        let text = generate(&SynthConfig::small_tiered(seed));
        let parsed = parse_manifest("synth.yaml", &text, "default");
        assert!(parsed.errors.is_empty(), "seed {seed}: {:?}", parsed.errors);
        let model = Model::compile(Cluster::build(parsed.objects));
        if !model.tiers.is_empty() {
            tiered += 1;
        }
        let conns = Connections::compute(&model);
        let n = model.cluster.endpoints.len();
        let mut masks = Vec::new();
        for s in 0..n {
            conns.row_masks(s, &mut masks);
            let w = conns.mask_words();
            for d in 0..n {
                if s == d {
                    continue;
                }
                let (want, possible) = slow(&model, s, d);
                let got = conns.ports(&masks[d * w..(d + 1) * w]);
                let agrees = |p: &PortSet| {
                    if want == possible {
                        *p == want
                    } else {
                        want.is_subset(p) && p.is_subset(&possible)
                    }
                };
                if !agrees(&got) || !agrees(&conns.between(s, d)) {
                    let path = std::env::temp_dir().join(format!("netfence-conn-{seed}.yaml"));
                    let _ = std::fs::write(&path, &text);
                    panic!(
                        "seed {seed}: {} -> {}: fast {}, reach {} (cluster in {}; rerun with \
                         NETFENCE_CONN_SEED_START={seed} NETFENCE_CONN_SEEDS=1)",
                        model.cluster.endpoint_name(model.cluster.endpoints[s].id),
                        model.cluster.endpoint_name(model.cluster.endpoints[d].id),
                        ConnectionText(&got),
                        ConnectionText(&want),
                        path.display()
                    );
                }
                // Sources the CLI lets share a line: equal masks towards every other pod.
                if conns.row_hash(s) == conns.row_hash(d) && conns.same_rows_but_each_other(s, d) {
                    for x in (0..n).filter(|&x| x != s && x != d) {
                        assert_eq!(conns.between(s, x), conns.between(d, x), "seed {seed}");
                    }
                }
                if want.is_all() {
                    all += 1;
                } else if want.is_empty() {
                    none += 1;
                } else {
                    partial += 1;
                }
            }
        }
    }
    if seeds >= 50 {
        // The clusters must exercise every kind of answer, tiers included.
        assert!(tiered * 10 >= seeds * 7, "{tiered} of {seeds} tiered");
        assert!(
            partial > 1000 && none > 1000 && all > 1000,
            "{partial} partial, {none} none, {all} all"
        );
    }
}
