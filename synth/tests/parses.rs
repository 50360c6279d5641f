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

#[test]
fn tiered_clusters_parse_cleanly() {
    let mut tiered = 0;
    for seed in 0..300 {
        let cfg = SynthConfig::small_tiered(seed);
        let text = generate(&cfg);
        let parsed = parse_manifest("synth.yaml", &text, "default");
        assert!(
            parsed.errors.is_empty(),
            "seed {seed}: {:?}\n{text}",
            parsed.errors
        );
        let count = |f: fn(&Object) -> bool| parsed.objects.iter().filter(|o| f(o)).count();
        let policies = cfg.admin_policies + cfg.baseline_policies;
        assert_eq!(
            count(|o| matches!(o, Object::TierPolicy(_))),
            policies,
            "seed {seed}"
        );
        if policies > 0 {
            tiered += 1;
            assert!(count(|o| matches!(o, Object::Node(_))) > 0, "seed {seed}");
        }
    }
    assert!(tiered > 250, "{tiered}");
}

#[test]
fn tiers_leave_the_rest_unchanged() {
    // The tiered policies are drawn last: the rest of the manifests is the same text.
    for seed in 0..50 {
        let plain = generate(&SynthConfig::small(seed));
        let tiered = generate(&SynthConfig::small_tiered(seed));
        assert!(tiered.starts_with(&plain), "seed {seed}");
    }
}

#[test]
fn tiered_bench_cluster_parses_cleanly() {
    let mut cfg = SynthConfig::bench(2000, 200, 42);
    cfg.admin_policies = 40;
    cfg.baseline_policies = 10;
    let parsed = parse_manifest("synth.yaml", &generate(&cfg), "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
}
