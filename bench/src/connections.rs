//! `--connections`: every pair's full allowed port set, in process (`Connections`: the
//! matrix per port class, then every pair's class mask read back as a port set, each
//! distinct set once), and the CLI end to end on the generated manifests, output to
//! /dev/null: `matrix -o list` and `matrix -o json` on six port columns. The CLI is
//! `kubectl-netfence` beside this binary (build it with `cargo build --release -p
//! kubectl-netfence`) or `--cli PATH`; its wall time and peak resident memory
//! (the child's VmHWM, read while it runs) are reported.

use crate::{memory, timed};
use netfence_analyzer::Connections;
use netfence_model::Model;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct ConnRow {
    pub classes: usize,
    pub compute: Duration,
    /// Compute plus a pass over every ordered pair.
    pub all_pairs: Duration,
    pub allowed_pairs: usize,
    pub distinct_sets: usize,
    pub peak_mb: Option<f64>,
    pub cli_list: Option<CliRun>,
    pub cli_json: Option<CliRun>,
}

pub struct CliRun {
    pub time: Duration,
    pub peak_mb: f64,
    pub ok: bool,
}

/// The six port columns of the JSON run.
pub const JSON_PORTS: [&str; 6] = ["80", "443", "8080", "53/UDP", "5432", "9090"];

pub fn measure(runs: usize, text: &str, model: &Model, cli: Option<&Path>) -> ConnRow {
    eprintln!("   connections");
    memory::reset_peak();
    let (compute, conns) = timed(runs, || Connections::compute(model));
    let n = model.cluster.endpoints.len();
    let (all_pairs, (allowed_pairs, distinct_sets)) = timed(runs, || {
        let conns = Connections::compute(model);
        let w = conns.mask_words();
        let mut masks = Vec::new();
        let mut seen: HashSet<Vec<u64>> = HashSet::new();
        let mut allowed = 0;
        for s in 0..n {
            conns.row_masks(s, &mut masks);
            for d in (0..n).filter(|&d| d != s) {
                let m = &masks[d * w..(d + 1) * w];
                if m.iter().any(|&x| x != 0) {
                    allowed += 1;
                    if !seen.contains(m) {
                        std::hint::black_box(conns.ports(m));
                        seen.insert(m.to_vec());
                    }
                }
            }
        }
        (allowed, seen.len())
    });
    let peak_mb = memory::peak_mb();
    let (cli_list, cli_json) = match cli {
        Some(cli) => {
            let file =
                std::env::temp_dir().join(format!("netfence-bench-{}.yaml", std::process::id()));
            std::fs::write(&file, text).expect("writing the manifests for the CLI");
            eprintln!("   CLI matrix -o list");
            let list = run_cli(cli, &file, &["-o", "list"]);
            eprintln!("   CLI matrix -o json on 6 ports");
            let mut args = vec!["-o", "json"];
            for p in JSON_PORTS {
                args.extend(["-p", p]);
            }
            let json = run_cli(cli, &file, &args);
            let _ = std::fs::remove_file(&file);
            (Some(list), Some(json))
        }
        None => (None, None),
    };
    ConnRow {
        classes: conns.classes.len(),
        compute,
        all_pairs,
        allowed_pairs,
        distinct_sets,
        peak_mb,
        cli_list,
        cli_json,
    }
}

/// `kubectl-netfence` next to this binary, if built.
pub fn default_cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let cli = exe.parent()?.join("kubectl-netfence");
    cli.exists().then_some(cli)
}

fn run_cli(cli: &Path, file: &Path, args: &[&str]) -> CliRun {
    let t = Instant::now();
    let mut child = Command::new(cli)
        .arg("matrix")
        .arg("-f")
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("running kubectl-netfence");
    // The child's VmHWM (a peak, so it only grows) read every 2 ms until it exits:
    // the last reading misses at most the final 2 ms.
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(kb) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| memory::field_kb(&s, "VmHWM:"))
        {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait().expect("waiting for kubectl-netfence") {
            Some(status) => break status,
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    CliRun {
        time: t.elapsed(),
        peak_mb: peak_kb as f64 / 1024.0,
        ok: status.success(),
    }
}

pub fn print(pods: usize, r: &ConnRow) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!();
    println!(
        "every pair's allowed connections at {pods} pods ({} port classes):",
        r.classes
    );
    println!("  Connections::compute:          {}", ms(r.compute));
    println!(
        "  + every ordered pair's ports:  {} ({} allowed pairs, {} distinct port sets), peak {}",
        ms(r.all_pairs),
        r.allowed_pairs,
        r.distinct_sets,
        r.peak_mb.map_or("-".into(), |m| format!("{m:.0} MB"))
    );
    let cli = |name: &str, c: &Option<CliRun>| {
        match c {
        Some(c) => println!(
            "  CLI {name:<27} {} wall (load + compile + compute + print to /dev/null), peak {:.0} MB{}",
            ms(c.time),
            c.peak_mb,
            if c.ok { "" } else { " -- FAILED" }
        ),
        None => println!("  CLI {name:<27} - (no kubectl-netfence beside the bench; --cli PATH)"),
    }
    };
    cli("matrix -o list:", &r.cli_list);
    cli("matrix -o json, 6 ports:", &r.cli_json);
}
