//! Prints the manifests of one generated cluster:
//! `cargo run -p netfence-synth --example gen -- SEED` (the differential test's clusters), or
//! `cargo run -p netfence-synth --example gen -- SEED PODS [POLICIES]` (a benchmark cluster).

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("numbers: SEED [PODS [POLICIES]]"))
        .collect();
    let seed = args.first().copied().unwrap_or(1);
    let cfg = match args.get(1) {
        None => netfence_synth::SynthConfig::small(seed),
        Some(&pods) => {
            let policies = args.get(2).copied().unwrap_or(pods / 10);
            netfence_synth::SynthConfig::bench(pods as usize, policies as usize, seed)
        }
    };
    print!("{}", netfence_synth::generate(&cfg));
}
