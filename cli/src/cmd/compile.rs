//! `compile`: the nftables ruleset for a node.

use crate::args::{CompileArgs, RulesetFormat};
use crate::input;
use anyhow::{bail, Result};
use netfence_nft::{json, render_ruleset, text, NodeView, RenderOptions};
use std::process::ExitCode;

pub fn run(args: CompileArgs) -> Result<ExitCode> {
    let input = input::load(&args.input)?;
    let model = &input.model;
    if let Some(node) = &args.node {
        let known = model
            .cluster
            .endpoints
            .iter()
            .any(|e| e.node.as_deref() == Some(node.as_str()));
        if !known {
            bail!("no pod of the input runs on node {node}");
        }
    }
    let node = NodeView {
        name: args.node.clone(),
        addrs: args.node_addrs.clone(),
    };
    let opts = RenderOptions {
        counters: args.counters,
        log_group: None,
        unprogrammed_guard: Vec::new(),
    };
    let rs = render_ruleset(model, &node, &opts)?;
    match args.output {
        RulesetFormat::Nft => print!("{}", text::replace_script(&rs)),
        // Streamed command by command: the document is never whole in memory.
        RulesetFormat::Json => {
            let mut out = std::io::stdout().lock();
            json::write_document(&mut out, json::replace_commands(&rs, None), true)?;
            std::io::Write::write_all(&mut out, b"\n")?;
        }
    }
    if args.stats {
        let s = rs.stats();
        eprintln!(
            "chains: {}, rules: {}, sets: {}, maps: {}, elements: {}",
            s.chains, s.rules, s.sets, s.maps, s.elements
        );
    }
    Ok(ExitCode::SUCCESS)
}
