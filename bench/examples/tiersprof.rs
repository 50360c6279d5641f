use netfence_model::{parse_manifest, Cluster, Model};
use netfence_synth::{generate, SynthConfig};
fn main() {
    let mut cfg = SynthConfig::bench(10000, 1000, 1);
    cfg.admin_policies = 100;
    cfg.baseline_policies = 20;
    let text = generate(&cfg);
    let parsed = parse_manifest("s.yaml", &text, "default");
    let model = Model::compile(Cluster::build(parsed.objects));
    let t = std::time::Instant::now();
    for _ in 0..30 {
        std::hint::black_box(netfence_model::tiers::Tiers::compile(&model.cluster));
    }
    eprintln!("tiers compile {:?}", t.elapsed() / 30);
}
