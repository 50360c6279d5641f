//! `cargo bench -p netfence-nft --bench policy_count` (root): one namespace's policy
//! count against one node (issue 9, point 4). A synthetic cluster of 50 pods in one
//! namespace on one node with N policies; renders node-0's ruleset, then loads it into a
//! fresh network namespace as a full replace (the controller's first enforcement) and
//! times the kernel load. Prints the ruleset's size and the times; asserts nothing about
//! time. Options (after `--`): `--policies 1000,2500,5000,10000` `--pods 50`.

use netfence_model::{compile_text, Model};
use netfence_netns::{NodeSpec, Topology, TopologySpec};
use netfence_nft::{render_ruleset, Nft, NodeView, RenderOptions};
use netfence_synth::{generate, SynthConfig};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let list = |flag: &str, default: &str| -> Vec<usize> {
        let v = argv
            .iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .map_or(default, String::as_str);
        v.split(',').map(|s| s.parse().expect(flag)).collect()
    };
    let counts = list("--policies", "1000,2500,5000,10000");
    let pods = list("--pods", "50")[0];
    println!(
        "{:>8} {:>7} {:>7} {:>6} {:>9} {:>10} {:>10} {:>10}",
        "policies", "chains", "rules", "sets", "elements", "render", "doc bytes", "kernel load"
    );
    println!("(kernel load: the full replace and its verification)");
    for n in counts {
        let mut cfg = SynthConfig::bench(pods, n, 1);
        cfg.namespaces = 1;
        cfg.nodes = 1;
        cfg.templates = 0;
        let text = generate(&cfg);
        let model: Model =
            compile_text("synth.yaml", &text, "default").expect("synthetic manifests");
        let node = NodeView {
            name: Some("node-0".into()),
            addrs: vec![],
        };
        let t = Instant::now();
        let rs = render_ruleset(&model, &node, &RenderOptions::default()).expect("render");
        let render = t.elapsed();
        let stats = rs.stats();
        if let Ok(dir) = std::env::var("NETFENCE_BENCH_WRITE") {
            let f = std::fs::File::create(format!("{dir}/replace-{n}.json")).unwrap();
            netfence_nft::json::write_document(
                f,
                netfence_nft::json::replace_commands(&rs, None),
                false,
            )
            .unwrap();
            std::fs::write(
                format!("{dir}/replace-{n}.nft"),
                netfence_nft::text::replace_script(&rs),
            )
            .unwrap();
        }
        let bytes = {
            let mut buf = Vec::new();
            netfence_nft::json::write_document(
                &mut buf,
                netfence_nft::json::replace_commands(&rs, None),
                false,
            )
            .expect("document");
            buf.len()
        };
        let topo = Topology::build(&TopologySpec {
            nodes: vec![NodeSpec::new(
                "node-0",
                Ipv4Addr::new(192, 168, 93, 1),
                Ipv6Addr::new(0xfd00, 0x93, 0, 0, 0, 0, 0, 1),
            )],
        })
        .expect("node namespace (root)");
        let nft = Nft::in_netns(topo.netns("node-0").unwrap());
        let t = Instant::now();
        nft.replace(&rs).expect("kernel load");
        let load = t.elapsed();
        println!(
            "{n:>8} {:>7} {:>7} {:>6} {:>9} {:>8.0}ms {:>10} {:>9.2}s",
            stats.chains,
            stats.rules,
            stats.sets + stats.maps,
            stats.elements,
            render.as_secs_f64() * 1000.0,
            bytes,
            load.as_secs_f64()
        );
    }
}
