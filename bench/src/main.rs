//! netfence-bench: how load, compile, the matrix and single reach questions scale.
//!
//! For each cluster size it generates the manifests with `netfence-synth`, then measures
//! (median of `--runs` runs, wall clock with `std::time::Instant`):
//!   parse           manifest text -> objects (as the CLI reads a file: `parse_manifest_on` every core)
//!   build, compile  objects -> `Cluster::build` -> `Model::compile`
//!   matrix          the full N x N matrix for one port (computed, not printed)
//!   reach           one `reach()` between random endpoints (median / p99 over many pairs)
//! and prints a table, the model's size and the growth ratios between sizes.
//! With `--admin A --baseline B`: A Admin-tier and B Baseline-tier ClusterNetworkPolicies
//! besides the NetworkPolicies, and the tiers' figures: stacks, `Tiers::compile` alone,
//! the recompile after one ClusterNetworkPolicy changes. Peak resident memory is reported
//! per phase (load+compile, matrix).
//! With `--lint`: the whole lint catalogue over the compiled model. With `--diff`: the
//! connectivity diff between the cluster and a changed copy (every K-th policy dropped,
//! every 5K-th pod relabelled; K = 200 by default, `--diff-every K`), on every declared
//! container port.
//!
//! With `--connections`: every pair's full allowed port set (`Connections`) and the CLI's
//! `matrix -o list` / `-o json` to /dev/null (time and peak memory).
//!
//! Run: `cargo run --release -p netfence-bench -- [options]`
//! Nothing here asserts a time: it reports.

use netfence_analyzer::diff::{default_ports, diff, Grouping};
use netfence_analyzer::{reach, Flow, Matrix, MatrixPort, Party};
use netfence_model::ports::PortRef;
use netfence_model::{parse_manifest, Cluster, EndpointId, Model, Object, Protocol};
use netfence_synth::{generate, Rng, SynthConfig};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod connections;
mod memory;
mod tiers;

const USAGE: &str = "\
netfence-bench: time parse, compile, matrix and reach on synthetic clusters

usage: netfence-bench [options]
  --pods N[,N...]     cluster sizes in pods (default 1000,10000,50000); repeatable
  --policies M        policies per cluster (default: pods / 10)
  --admin A           Admin-tier ClusterNetworkPolicies (default 0)
  --baseline B        Baseline-tier ClusterNetworkPolicies (default 0)
  --namespaces K      namespaces (default: pods / 100, at least 3)
  --runs R            runs per measurement, the median is reported (default 3)
  --reach-samples S   random pairs for the single-reach timing (default 2000)
  --port P[/PROTO]    the matrix column (default 80/TCP)
  --seed S            generator seed (default 1)
  --dual-stack        IPv4 and IPv6 addresses
  --no-workloads      standalone pods, no Deployments
  --lint              also time lint (every check) over the compiled model
  --diff              also time the connectivity diff against a changed copy
  --diff-every K      the copy drops every K-th policy, relabels every 5K-th pod (200)
  --connections       also time every pair's allowed port set (matrix -o list's work)
                      and the CLI's matrix -o list / -o json (6 ports) to /dev/null
  --cli PATH          the kubectl-netfence for --connections (default: beside this binary)
  -h, --help          this text
";

struct Args {
    sizes: Vec<usize>,
    policies: Option<usize>,
    admin: usize,
    baseline: usize,
    namespaces: Option<usize>,
    runs: usize,
    reach_samples: usize,
    port: u16,
    protocol: Protocol,
    seed: u64,
    dual_stack: bool,
    workloads: bool,
    lint: bool,
    diff: bool,
    diff_every: usize,
    connections: bool,
    cli: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        sizes: Vec::new(),
        policies: None,
        admin: 0,
        baseline: 0,
        namespaces: None,
        runs: 3,
        reach_samples: 2000,
        port: 80,
        protocol: Protocol::Tcp,
        seed: 1,
        dual_stack: false,
        workloads: true,
        lint: false,
        diff: false,
        diff_every: 200,
        connections: false,
        cli: None,
    };
    let mut it = std::env::args().skip(1);
    let num = |flag: &str, v: Option<String>| -> Result<usize, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.replace('_', "")
            .parse()
            .map_err(|_| format!("{flag}: {v:?} is not a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--pods" => {
                let v = it.next().ok_or("--pods needs a value")?;
                for part in v.split(',') {
                    a.sizes.push(num("--pods", Some(part.to_string()))?);
                }
            }
            "--policies" => a.policies = Some(num("--policies", it.next())?),
            "--namespaces" => a.namespaces = Some(num("--namespaces", it.next())?),
            "--admin" => a.admin = num("--admin", it.next())?,
            "--baseline" => a.baseline = num("--baseline", it.next())?,
            "--runs" => a.runs = num("--runs", it.next())?.max(1),
            "--reach-samples" => a.reach_samples = num("--reach-samples", it.next())?.max(1),
            "--seed" => a.seed = num("--seed", it.next())? as u64,
            "--dual-stack" => a.dual_stack = true,
            "--no-workloads" => a.workloads = false,
            "--lint" => a.lint = true,
            "--diff" => a.diff = true,
            "--connections" => a.connections = true,
            "--cli" => a.cli = Some(it.next().ok_or("--cli needs a value")?.into()),
            "--diff-every" => a.diff_every = num("--diff-every", it.next())?.max(1),
            "--port" => {
                let v = it.next().ok_or("--port needs a value")?;
                let (p, proto) = v.split_once('/').unwrap_or((&v, "TCP"));
                a.port = p.parse().map_err(|_| format!("--port: bad port {p:?}"))?;
                a.protocol = proto.to_ascii_uppercase().parse()?;
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if a.sizes.is_empty() {
        a.sizes = vec![1_000, 10_000, 50_000];
    }
    Ok(Some(a))
}

pub(crate) fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Runs `f` `runs` times and returns the median time and the last result.
pub(crate) fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = black_box(f());
        times.push(t.elapsed());
        last = Some(v);
    }
    (median(times), last.expect("at least one run"))
}

struct Row {
    pods: usize,
    policies: usize,
    endpoints: usize,
    text_mb: f64,
    generate: Duration,
    parse: Duration,
    build: Duration,
    compile: Duration,
    load_compile: Duration,
    matrix: Duration,
    matrix_allowed: usize,
    reach_median_us: f64,
    reach_p99_us: f64,
    unions: usize,
    ingress_unions: usize,
    peers: usize,
    allows: usize,
    lint: Option<LintRow>,
    diff: Option<DiffRow>,
    tiers: Option<tiers::TierRow>,
    connections: Option<connections::ConnRow>,
    /// Peak resident memory while loading and compiling, and while computing the matrix.
    peak_load_mb: Option<f64>,
    peak_matrix_mb: Option<f64>,
    /// Resident memory when loading starts (the generated text is held) and when the
    /// matrix starts (the objects and the model are held).
    rss_before_load_mb: Option<f64>,
    rss_before_matrix_mb: Option<f64>,
}

struct LintRow {
    time: Duration,
    findings: usize,
    checks: usize,
}

struct DiffRow {
    /// Parse and compile of the changed copy.
    head_load: Duration,
    time: Duration,
    ports: usize,
    changes: usize,
    policy_changes: usize,
}

/// The changed copy for the diff: every `every`-th policy dropped, and the first label of
/// every `5 * every`-th pod renamed (so policies and selections both change).
fn changed_copy(text: &str, every: usize) -> String {
    let (mut policies, mut pods) = (0, 0);
    let mut out = Vec::new();
    for doc in text.split("\n---\n") {
        if doc.contains("kind: NetworkPolicy") {
            policies += 1;
            if policies % every == 0 {
                continue;
            }
        } else if doc.contains("kind: Pod\n") {
            pods += 1;
            if pods % (5 * every) == 0 {
                out.push(doc.replacen("app: ", "app: renamed-", 1));
                continue;
            }
        }
        out.push(doc.to_string());
    }
    out.join("\n---\n")
}

fn measure_lint(a: &Args, model: &Model) -> LintRow {
    eprintln!("   lint");
    let config = netfence_lint::LintConfig::default();
    let (time, report) = timed(a.runs, || netfence_lint::lint(model, &[], &config));
    LintRow {
        time,
        findings: report.findings.len(),
        checks: netfence_lint::CATALOGUE
            .iter()
            .filter(|c| config.is_enabled(c))
            .count(),
    }
}

fn measure_diff(a: &Args, text: &str, base: &Model) -> DiffRow {
    eprintln!("   diff");
    let head_text = changed_copy(text, a.diff_every);
    let (head_load, head) = timed(a.runs, || {
        let parsed = parse_manifest("head.yaml", &head_text, "default");
        Model::compile(Cluster::build(parsed.objects))
    });
    let ports = default_ports(base, &head);
    let (time, d) = timed(a.runs, || diff(base, &head, &ports, Grouping::Workload));
    DiffRow {
        head_load,
        time,
        ports: ports.len(),
        changes: d.changes.len(),
        policy_changes: d.policy_changes.len(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn run_size(a: &Args, pods: usize) -> Row {
    let policies = a.policies.unwrap_or(pods / 10);
    let mut cfg = SynthConfig::bench(pods, policies, a.seed);
    cfg.dual_stack = a.dual_stack;
    cfg.workloads = a.workloads;
    cfg.admin_policies = a.admin;
    cfg.baseline_policies = a.baseline;
    if !a.workloads {
        cfg.templates = 0;
    }
    if let Some(ns) = a.namespaces {
        cfg.namespaces = ns;
    }
    eprintln!("-- {pods} pods, {policies} policies: generating");
    let t = Instant::now();
    let text = generate(&cfg);
    let generate_time = t.elapsed();

    eprintln!("   parsing ({:.1} MB)", text.len() as f64 / 1e6);
    let rss_before_load_mb = memory::current_mb();
    memory::reset_peak();
    // As the CLI reads a file: a large one on every core.
    let (parse, parsed) = timed(a.runs, || {
        netfence_loader::files::parse("synth.yaml", &text, "default")
    });
    assert!(parsed.errors.is_empty(), "{:?}", &parsed.errors[..1]);
    let objects: Vec<Object> = parsed.objects;

    eprintln!("   building and compiling");
    let mut builds = Vec::new();
    let mut compiles = Vec::new();
    let mut model = None;
    for _ in 0..a.runs {
        let objs = objects.clone();
        let t = Instant::now();
        let cluster = black_box(Cluster::build(objs));
        let t_build = t.elapsed();
        let t = Instant::now();
        let m = black_box(Model::compile(cluster));
        compiles.push(t.elapsed());
        builds.push(t_build);
        model = Some(m);
    }
    let model = model.expect("at least one run");
    let build = median(builds);
    let compile = median(compiles);
    let peak_load_mb = memory::peak_mb();

    eprintln!("   matrix");
    let col = MatrixPort {
        port: PortRef::Number(a.port),
        protocol: a.protocol,
    };
    let n = model.cluster.endpoints.len();
    let rss_before_matrix_mb = memory::current_mb();
    memory::reset_peak();
    let (matrix, m) = timed(a.runs, || {
        Matrix::compute(&model, std::slice::from_ref(&col))
    });
    let peak_matrix_mb = memory::peak_mb();
    let matrix_allowed: usize = (0..n).map(|s| m.row(0, s).count()).sum();
    drop(m);

    eprintln!("   reach");
    let mut r = Rng::new(a.seed ^ 0xBE7C);
    let mut samples = Vec::with_capacity(a.reach_samples);
    for _ in 0..a.reach_samples {
        let from = EndpointId(r.below(n) as u32);
        let to = EndpointId(r.below(n) as u32);
        let flow = Flow {
            from: Party::Endpoint(from),
            to: Party::Endpoint(to),
            protocol: Some(a.protocol),
            port: Some(a.port),
            family: None,
        };
        let t = Instant::now();
        black_box(reach(&model, black_box(flow)));
        samples.push(t.elapsed());
    }
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let reach_median_us = us(samples[samples.len() / 2]);
    let reach_p99_us = us(samples[(samples.len() * 99 / 100).min(samples.len() - 1)]);

    let lint = a.lint.then(|| measure_lint(a, &model));
    let diff = a.diff.then(|| measure_diff(a, &text, &model));
    let tiers = (a.admin + a.baseline > 0).then(|| tiers::measure(a.runs, &objects, &model));
    let connections = a.connections.then(|| {
        let cli = a.cli.clone().or_else(connections::default_cli);
        connections::measure(a.runs, &text, &model, cli.as_deref())
    });
    Row {
        connections,
        lint,
        diff,
        tiers,
        peak_load_mb,
        peak_matrix_mb,
        rss_before_load_mb,
        rss_before_matrix_mb,
        pods,
        policies,
        endpoints: n,
        text_mb: text.len() as f64 / 1e6,
        generate: generate_time,
        parse,
        build,
        compile,
        load_compile: parse + build + compile,
        matrix,
        matrix_allowed,
        reach_median_us,
        reach_p99_us,
        unions: model.unions.len(),
        ingress_unions: model
            .unions
            .iter()
            .filter(|u| u.direction == netfence_model::objects::Direction::Ingress)
            .count(),
        peers: model.peers.len(),
        allows: model.unions.iter().map(|u| u.allows.len()).sum(),
    }
}

fn print_table(rows: &[Row], a: &Args) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "netfence-bench: seed {}, median of {} run(s), matrix column {}/{}, {} reach samples, {} core(s), {} Admin + {} Baseline CNPs{}",
        a.seed,
        a.runs,
        a.port,
        a.protocol,
        a.reach_samples,
        cores,
        a.admin,
        a.baseline,
        if cfg!(debug_assertions) {
            " -- DEBUG BUILD, use --release"
        } else {
            ""
        }
    );
    println!();
    println!(
        "{:>7} {:>8} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>13} {:>11} {:>12} {:>11}",
        "pods",
        "policies",
        "endpoints",
        "yaml MB",
        "generate",
        "parse",
        "build",
        "compile",
        "load+compile",
        "matrix 1p",
        "reach med",
        "reach p99"
    );
    for r in rows {
        println!(
            "{:>7} {:>8} {:>9} {:>8.1} {:>10} {:>10} {:>10} {:>10} {:>13} {:>11} {:>9.1} us {:>8.1} us",
            r.pods,
            r.policies,
            r.endpoints,
            r.text_mb,
            ms(r.generate),
            ms(r.parse),
            ms(r.build),
            ms(r.compile),
            ms(r.load_compile),
            ms(r.matrix),
            r.reach_median_us,
            r.reach_p99_us
        );
    }
    println!();
    println!(
        "{:>7} {:>8} {:>14} {:>8} {:>8} {:>16}",
        "pods", "unions", "(ingress)", "peers", "allows", "matrix allowed"
    );
    for r in rows {
        let pct = 100.0 * r.matrix_allowed as f64 / (r.endpoints as f64 * r.endpoints as f64);
        println!(
            "{:>7} {:>8} {:>14} {:>8} {:>8} {:>10} {:>4.0}%",
            r.pods, r.unions, r.ingress_unions, r.peers, r.allows, r.matrix_allowed, pct
        );
    }
    println!();
    println!(
        "resident memory (RSS before -> peak during; freed memory is reused, not returned), process peak {}:",
        memory::show(memory::process_peak_mb())
    );
    println!("{:>7} {:>26} {:>26}", "pods", "load+compile", "matrix 1p");
    for r in rows {
        let phase = |before, peak| format!("{} -> {}", memory::show(before), memory::show(peak));
        println!(
            "{:>7} {:>26} {:>26}",
            r.pods,
            phase(r.rss_before_load_mb, r.peak_load_mb),
            phase(r.rss_before_matrix_mb, r.peak_matrix_mb)
        );
    }
    if rows.iter().any(|r| r.tiers.is_some()) {
        println!();
        println!(
            "{:>7} {:>7} {:>7} {:>9} {:>14} {:>18}  change",
            "pods", "tiered", "stacks", "elements", "tiers compile", "recompile 1 CNP"
        );
        for r in rows {
            if let Some(t) = &r.tiers {
                println!(
                    "{:>7} {:>7} {:>7} {:>9} {:>14} {:>18}  {}",
                    r.pods,
                    t.policies,
                    t.stacks,
                    t.elements,
                    ms(t.compile),
                    ms(t.recompile),
                    t.change
                );
            }
        }
    }
    if rows.len() > 1 {
        println!();
        println!("growth between consecutive sizes (time ratio / size ratio):");
        for w in rows.windows(2) {
            let (a0, b) = (&w[0], &w[1]);
            let size = b.pods as f64 / a0.pods as f64;
            let ratio = |x: Duration, y: Duration| y.as_secs_f64() / x.as_secs_f64().max(1e-9);
            println!(
                "  {} -> {} pods (x{:.0}): parse x{:.1}, build x{:.1}, compile x{:.1}, load+compile x{:.1}, matrix x{:.1} (n^2 is x{:.0}), reach x{:.1}",
                a0.pods,
                b.pods,
                size,
                ratio(a0.parse, b.parse),
                ratio(a0.build, b.build),
                ratio(a0.compile, b.compile),
                ratio(a0.load_compile, b.load_compile),
                ratio(a0.matrix, b.matrix),
                size * size,
                b.reach_median_us / a0.reach_median_us.max(1e-9),
            );
        }
    }
    if rows.iter().any(|r| r.lint.is_some() || r.diff.is_some()) {
        println!();
        println!(
            "{:>7} {:>10} {:>9} {:>9} {:>14} {:>10} {:>7} {:>9} {:>10} {:>15}",
            "pods",
            "lint",
            "checks",
            "findings",
            "parse+lint",
            "diff",
            "ports",
            "changes",
            "policies~",
            "2x load + diff"
        );
        for r in rows {
            let (lt, checks, findings, e2e) = match &r.lint {
                Some(l) => (
                    ms(l.time),
                    l.checks.to_string(),
                    l.findings.to_string(),
                    ms(r.load_compile + l.time),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            let (dt, ports, changes, pol, d2e) = match &r.diff {
                Some(d) => (
                    ms(d.time),
                    d.ports.to_string(),
                    d.changes.to_string(),
                    d.policy_changes.to_string(),
                    ms(r.load_compile + d.head_load + d.time),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:>7} {:>10} {:>9} {:>9} {:>14} {:>10} {:>7} {:>9} {:>10} {:>15}",
                r.pods, lt, checks, findings, e2e, dt, ports, changes, pol, d2e
            );
        }
    }
    for r in rows {
        if let Some(c) = &r.connections {
            connections::print(r.pods, c);
        }
    }
    if let Some(r) = rows.iter().find(|r| r.pods == 10_000) {
        println!();
        println!("targets at 10,000 pods:");
        let check = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "  load + compile < 1 s:      {} ({})",
            ms(r.load_compile),
            check(r.load_compile < Duration::from_secs(1))
        );
        println!(
            "  10k x 10k matrix < 1 s:    {} ({})",
            ms(r.matrix),
            check(r.matrix < Duration::from_secs(1))
        );
        println!(
            "  single reach < 5 ms:       {:.1} us median, {:.1} us p99 ({})",
            r.reach_median_us,
            r.reach_p99_us,
            check(r.reach_p99_us < 5000.0)
        );
        if let Some(l) = &r.lint {
            println!(
                "  lint < 2 s:                {} ({})",
                ms(l.time),
                check(l.time < Duration::from_secs(2))
            );
        }
        if let Some(t) = &r.tiers {
            println!(
                "  recompile after 1 CNP:     {} (the kernel's part of < 200 ms is measured elsewhere)",
                ms(t.recompile)
            );
        }
        if let Some(d) = &r.diff {
            println!(
                "  diff < 2 s:                {} on {} ports ({})",
                ms(d.time),
                d.ports,
                check(d.time < Duration::from_secs(2))
            );
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("netfence-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rows: Vec<Row> = args.sizes.iter().map(|&p| run_size(&args, p)).collect();
    print_table(&rows, &args);
    ExitCode::SUCCESS
}
