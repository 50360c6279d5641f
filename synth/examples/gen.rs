fn main() {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1);
    print!("{}", netfence_synth::generate(&netfence_synth::SynthConfig::small(seed)));
}
