//! Every generated manifest is one a cluster would accept: it parses with no error.

use netfence_model::{parse_manifest, Object};
use netfence_synth::{generate, SynthConfig};

#[test]
fn small_clusters_parse_cleanly() {
    for seed in 0..300 {
        let cfg = SynthConfig::small(seed);
        let text = generate(&cfg);
        let parsed = parse_manifest("synth.yaml", &text, "default");
        assert!(
            parsed.errors.is_empty(),
            "seed {seed}: {:?}\n{text}",
            parsed.errors
        );
        let pods = parsed
            .objects
            .iter()
            .filter(|o| matches!(o, Object::Pod(_)))
            .count();
        let policies = parsed
            .objects
            .iter()
            .filter(|o| matches!(o, Object::Policy(_)))
            .count();
        assert_eq!(pods, cfg.pods, "seed {seed}");
        assert_eq!(policies, cfg.policies, "seed {seed}");
    }
}

#[test]
fn bench_cluster_parses_cleanly() {
    let cfg = SynthConfig::bench(2000, 200, 42);
    let parsed = parse_manifest("synth.yaml", &generate(&cfg), "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
}
