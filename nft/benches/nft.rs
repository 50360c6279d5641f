//! `cargo bench -p netfence-nft --bench nft`: renderer, kernel apply and packet path at
//! scale, on synthetic clusters (a node per 100 pods, so 100 local pods per node).
//! Needs root (network namespaces). Prints figures; asserts nothing about time.
//!
//! Options (after `--`): `--pods 1000,10000,50000` `--runs 5` `--seconds 2`
//! `--skip-packets`, `--tiers` (only the tiered section: 10,000 pods, 1,000
//! NetworkPolicies, 100 Admin and 20 Baseline ClusterNetworkPolicies; a CNP change to
//! the kernel and the packet path with the tiers loaded).

use netfence_model::{compile_text, Model};
use netfence_netns::{NodeSpec, PodSpec, Topology, TopologySpec, Worker};
use netfence_nft::{
    diff, render_cached, render_ruleset, Change, Nft, NodeView, RenderOptions, SetCache,
};
use netfence_synth::{generate, SynthConfig};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Args {
    pods: Vec<usize>,
    runs: usize,
    seconds: f64,
    packets: bool,
    tiers_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        pods: vec![1_000, 10_000, 50_000],
        runs: 5,
        seconds: 2.0,
        packets: true,
        tiers_only: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "--pods" => {
                a.pods = argv[i + 1]
                    .split(',')
                    .map(|s| s.parse().expect("--pods"))
                    .collect();
                i += 1;
            }
            "--runs" => {
                a.runs = argv[i + 1].parse().expect("--runs");
                i += 1;
            }
            "--seconds" => {
                a.seconds = argv[i + 1].parse().expect("--seconds");
                i += 1;
            }
            "--skip-packets" => a.packets = false,
            "--tiers" => a.tiers_only = true,
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    a
}

fn cluster(pods: usize) -> (String, Model) {
    let mut cfg = SynthConfig::bench(pods, pods / 10, 1);
    cfg.nodes = pods / 100;
    let text = generate(&cfg);
    let model = compile_text("synth.yaml", &text, "default").expect("synthetic cluster");
    (text, model)
}

fn node_view() -> NodeView {
    NodeView {
        name: Some("node-0".into()),
        addrs: vec![],
    }
}

/// Gives one pod of node-0 a new address (a pod change that touches only elements:
/// peer sets, the node's pod set and the dispatch maps).
fn readdressed(text: &str) -> String {
    let i = text.find("  nodeName: node-0\n").expect("a pod on node-0");
    let (head, tail) = text.split_at(i);
    let at = tail.find("  podIP: ").expect("its address");
    let end = at + tail[at..].find('\n').expect("line end");
    format!(
        "{head}{}  podIP: 10.254.254.254{}",
        &tail[..at],
        &tail[end..]
    )
}

fn main() {
    let a = args();
    if a.tiers_only {
        tiers(&a);
        return;
    }
    println!(
        "netfence nft bench: median of {} runs, {} cores, node-0 of a node per 100 pods",
        a.runs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "\n{:>7} {:>9} {:>6} {:>10} {:>8} {:>7} {:>6} {:>9} {:>11} {:>11} {:>11}",
        "pods",
        "policies",
        "local",
        "render",
        "chains",
        "rules",
        "sets",
        "elements",
        "nft full",
        "delta",
        "delta size"
    );
    let mut for_packets = None;
    for &pods in &a.pods {
        let (text, model) = cluster(pods);
        let local = model
            .cluster
            .endpoints
            .iter()
            .filter(|e| netfence_nft::render::is_local(e, &node_view()))
            .count();
        let opts = RenderOptions::default();
        let render_times: Vec<Duration> = (0..a.runs)
            .map(|_| {
                let t = Instant::now();
                let rs = render_ruleset(&model, &node_view(), &opts).expect("render");
                let d = t.elapsed();
                std::hint::black_box(rs);
                d
            })
            .collect();
        let rs = render_ruleset(&model, &node_view(), &opts).expect("render");
        let stats = rs.stats();

        // The kernel: one node namespace.
        let topo = Topology::build(&TopologySpec {
            nodes: vec![NodeSpec::new(
                "node-0",
                Ipv4Addr::new(192, 168, 90, 1),
                Ipv6Addr::new(0xfd00, 0x90, 0, 0, 0, 0, 0, 1),
            )],
        })
        .expect("node namespace");
        let nft = Nft::in_netns(topo.netns("node-0").unwrap());
        let full: Vec<Duration> = (0..a.runs.min(3))
            .map(|_| {
                let t = Instant::now();
                nft.replace(&rs).expect("full apply");
                t.elapsed()
            })
            .collect();
        let other = model_of(&readdressed(&text));
        let rs2 = render_ruleset(&other, &node_view(), &opts).expect("render");
        let (there, back) = match (diff(&rs, &rs2), diff(&rs2, &rs)) {
            (Change::Delta(d1), Change::Delta(d2)) => (d1, d2),
            other => panic!("a new pod address should be an element delta, got {other:?}"),
        };
        // As the DaemonSet runs it: `nft` started inside the node's namespace (a thread
        // that entered it spawns the process), without `ip netns exec`'s extra work.
        let inside = Worker::start(topo.netns("node-0").unwrap()).expect("enter node-0");
        let deltas: Vec<Duration> = (0..a.runs)
            .map(|i| {
                let d = if i % 2 == 0 {
                    there.clone()
                } else {
                    back.clone()
                };
                inside.run(move || {
                    let t = Instant::now();
                    Nft::default().apply_delta(&d).expect("delta apply");
                    t.elapsed()
                })
            })
            .collect();
        println!(
            "{:>7} {:>9} {:>6} {:>10} {:>8} {:>7} {:>6} {:>9} {:>11} {:>11} {:>11}",
            pods,
            model.cluster.policies.len(),
            local,
            ms(median(render_times)),
            stats.chains,
            stats.rules,
            stats.sets,
            stats.elements,
            ms(median(full)),
            ms(median(deltas)),
            there.size()
        );
        if pods == 10_000 {
            for_packets = Some(text);
        }
    }
    pod_events(for_packets.as_deref().unwrap_or(&cluster(10_000).0), a.runs);
    if a.packets {
        let text = for_packets.unwrap_or_else(|| cluster(10_000).0);
        packet_path(&text, a.seconds, a.runs.min(7));
    }
}

/// The controller's path for one pod event, in process: patch the model
/// (`Model::upsert_pod`), render with the set cache, diff, apply the delta inside the
/// node's namespace. The cluster is what the controller watches (pods, namespaces,
/// policies: no workloads); each event gives a different node-0 pod a new address.
fn pod_events(text: &str, runs: usize) {
    use netfence_model::objects::{Meta, Pod};
    let parsed = netfence_model::parse_manifest("synth.yaml", text, "default");
    let watched: Vec<_> = parsed
        .objects
        .into_iter()
        .filter(|o| {
            matches!(
                o,
                netfence_model::Object::Pod(_)
                    | netfence_model::Object::Namespace(_)
                    | netfence_model::Object::Policy(_)
            )
        })
        .collect();
    let mut model = Model::compile(netfence_model::Cluster::build(watched));
    let opts = RenderOptions {
        counters: true,
        log_group: Some(1),
        unprogrammed_guard: vec![],
    };
    let mut cache = SetCache::default();
    let mut current = render_cached(&model, &node_view(), &opts, &mut cache).expect("render");
    let topo = Topology::build(&TopologySpec {
        nodes: vec![NodeSpec::new(
            "node-0",
            Ipv4Addr::new(192, 168, 92, 1),
            Ipv6Addr::new(0xfd00, 0x92, 0, 0, 0, 0, 0, 1),
        )],
    })
    .expect("node namespace");
    let inside = Worker::start(topo.netns("node-0").unwrap()).expect("enter node-0");
    inside
        .run({
            let rs = current.clone();
            move || Nft::default().replace(&rs)
        })
        .expect("full apply");
    // As the controller applies deltas: one libnftables context kept open.
    let kept = netfence_nft::Kept::start(topo.netns("node-0")).expect("libnftables");
    let local: Vec<usize> = model
        .cluster
        .endpoints
        .iter()
        .filter(|e| netfence_nft::render::is_local(e, &node_view()))
        .map(|e| e.id.index())
        .collect();
    let (mut patch, mut render, mut delta, mut apply, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    for i in 0..runs.max(1) * 4 {
        let e = model
            .cluster
            .endpoint(netfence_model::EndpointId(local[i % local.len()] as u32));
        let pod = Pod {
            meta: Meta {
                name: e.name.clone(),
                namespace: model.cluster.namespace(e.namespace).name.clone(),
                labels: e.labels.clone(),
                annotations: Default::default(),
                source: e.source.clone(),
            },
            ports: e.ports.clone(),
            host_network: e.host_network,
            node: e.node.clone(),
            addrs: vec![format!("10.253.{}.{}", i / 250, i % 250 + 1)
                .parse()
                .unwrap()],
            host_addrs: e.host_addrs.clone(),
            terminated: false,
            controller: None,
        };
        let t = Instant::now();
        let change = model.upsert_pod(pod).expect("patchable");
        cache.apply(&change);
        let t1 = t.elapsed();
        let next = render_cached(&model, &node_view(), &opts, &mut cache).expect("render");
        let t2 = t.elapsed();
        let Change::Delta(d) = diff(&current, &next) else {
            panic!("a new pod address should be an element delta")
        };
        let t3 = t.elapsed();
        size = d.size();
        let t4 = Instant::now();
        kept.apply_delta(&d).expect("delta apply");
        let applied = t4.elapsed();
        total.push(t.elapsed());
        current = next;
        patch.push(t1);
        render.push(t2 - t1);
        delta.push(t3 - t2);
        apply.push(applied);
    }
    println!(
        "\npod event (a node-0 pod readdressed), {} pods, median of {} events:\n  patch {}, render {}, diff {}, nft delta {} ({size} elements), total {}",
        model.cluster.endpoints.len(),
        total.len(),
        ms(median(patch)),
        ms(median(render)),
        ms(median(delta)),
        ms(median(apply)),
        ms(median(total)),
    );
}

fn model_of(text: &str) -> Model {
    compile_text("synth.yaml", text, "default").expect("cluster")
}

/// Two pods on node-0 added to the cluster: the server is isolated by a policy that
/// allows the client, and the client's egress is isolated by one allowing the server.
fn packet_model(text: &str) -> Model {
    let extra = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: bench, labels: {role: client}}\nspec: {nodeName: node-0}\nstatus: {podIP: 10.250.0.1, hostIP: 192.168.90.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: bench, labels: {role: server}}\nspec: {nodeName: node-0}\nstatus: {podIP: 10.250.0.2, hostIP: 192.168.90.1}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: server, namespace: bench}\nspec:\n  podSelector: {matchLabels: {role: server}}\n  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 5201}]}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: client, namespace: bench}\nspec:\n  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n  egress: [{to: [{podSelector: {matchLabels: {role: server}}}], ports: [{port: 5201}]}]\n";
    model_of(&format!("{text}\n{extra}"))
}

fn connection_rate(client: &Worker, to: SocketAddr, seconds: f64) -> f64 {
    client.run(move || {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let mut n = 0u64;
        let t = Instant::now();
        while Instant::now() < end {
            let s = match TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                Ok(s) => s,
                Err(e) => panic!("connect #{n}: {e}"),
            };
            // A full handshake both ways: wait for the server's FIN.
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut b = [0u8; 1];
            let _ = (&s).read(&mut b);
            drop(s);
            n += 1;
        }
        n as f64 / t.elapsed().as_secs_f64()
    })
}

fn throughput(client: &Worker, to: SocketAddr, seconds: f64) -> f64 {
    client.run(move || {
        let mut s = TcpStream::connect(to).expect("connect");
        let buf = vec![0u8; 256 * 1024];
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let t = Instant::now();
        let mut bytes = 0u64;
        while Instant::now() < end {
            s.write_all(&buf).expect("send");
            bytes += buf.len() as u64;
        }
        bytes as f64 / t.elapsed().as_secs_f64() / 1e9 * 8.0
    })
}

fn packet_path(text: &str, seconds: f64, reps: usize) {
    packet_path_of(&packet_model(text), seconds, reps);
}

/// The cluster of the tiered benchmark: 10,000 pods, 1,000 NetworkPolicies, 100 Admin
/// and 20 Baseline ClusterNetworkPolicies.
fn tiered_cluster() -> String {
    let mut cfg = SynthConfig::bench(10_000, 1_000, 1);
    cfg.nodes = 100;
    cfg.admin_policies = 100;
    cfg.baseline_policies = 20;
    generate(&cfg)
}

/// An Admin policy over the benchmark's client and server, first in the tier: a packet
/// between them walks its rules that do not match (a Deny of other namespaces' pods, a
/// Deny of an address range, an Accept of another port) before the Pass that hands it
/// to NetworkPolicy.
const BENCH_GUARD: &str = "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: bench-guard}\nspec:\n  tier: Admin\n  priority: 0\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: bench}}}\n  ingress:\n  - {name: not-others, action: Deny, from: [{namespaces: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [bench]}]}}]}\n  - {name: other-port, action: Accept, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 9}}}]}\n  - {name: hand-over, action: Pass, from: [{namespaces: {}}]}\n  egress:\n  - {name: no-metadata, action: Deny, to: [{networks: [169.254.0.0/16]}]}\n  - {name: hand-over, action: Pass, to: [{namespaces: {}}]}\n";

/// The objects with one Admin policy changed (its first rule's action turned, its
/// priority moved by one), and back on every other call.
fn changed_cnp(objects: &[netfence_model::Object], turn: usize) -> Vec<netfence_model::Object> {
    use netfence_model::tier::{Tier, TierAction};
    let mut out = objects.to_vec();
    if turn % 2 == 1 {
        return out;
    }
    let p = out
        .iter_mut()
        .find_map(|o| match o {
            netfence_model::Object::TierPolicy(p)
                if p.tier == Tier::Admin && !p.ingress.is_empty() && p.name != "bench-guard" =>
            {
                Some(p)
            }
            _ => None,
        })
        .expect("an Admin policy with ingress rules");
    p.ingress[0].action = match p.ingress[0].action {
        TierAction::Accept => TierAction::Deny,
        TierAction::Deny => TierAction::Pass,
        TierAction::Pass => TierAction::Accept,
    };
    p.priority = (p.priority + 1).min(1000);
    out
}

/// The tiered section: the ruleset of node-0, one CNP change to the kernel as the
/// controller does it (the tiers compiled again, render with the cache, diff, the delta
/// through the kept libnftables context), and the packet path with the tiers loaded.
fn tiers(a: &Args) {
    let text = format!("{}{BENCH_GUARD}", tiered_cluster());
    let parsed = netfence_model::parse_manifest("synth.yaml", &text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let objects = parsed.objects;
    let opts = RenderOptions {
        counters: true,
        ..RenderOptions::default()
    };
    let model = Model::compile(netfence_model::Cluster::build(objects.clone()));
    let mut live = model.clone();
    let mut cache = SetCache::default();
    let mut held = render_cached(&model, &node_view(), &opts, &mut cache).expect("render");
    let stats = held.stats();
    let topo = Topology::build(&TopologySpec {
        nodes: vec![NodeSpec::new(
            "node-0",
            Ipv4Addr::new(192, 168, 90, 1),
            Ipv6Addr::new(0xfd00, 0x90, 0, 0, 0, 0, 0, 1),
        )],
    })
    .expect("node namespace");
    let kept = netfence_nft::Kept::start(topo.netns("node-0")).expect("libnftables");
    let t = Instant::now();
    kept.replace(&held).expect("full replace");
    let full = t.elapsed();
    let (mut compile, mut render, mut delta, mut total) = (vec![], vec![], vec![], vec![]);
    let mut size = 0;
    for turn in 0..a.runs.max(2) * 2 {
        let tiered: Vec<_> = changed_cnp(&objects, turn)
            .into_iter()
            .filter_map(|o| match o {
                netfence_model::Object::TierPolicy(p) => Some(p),
                _ => None,
            })
            .collect();
        let t0 = Instant::now();
        // As the controller does when only tiered policies changed.
        live.replace_tier_policies(tiered);
        let t1 = Instant::now();
        cache.forget_tiers();
        let next = render_cached(&live, &node_view(), &opts, &mut cache).expect("render");
        let d = match diff(&held, &next) {
            Change::Delta(d) => d,
            other => panic!("a CNP change should be a delta, got {other:?}"),
        };
        let t2 = Instant::now();
        kept.apply_delta(&d).expect("delta");
        let t3 = Instant::now();
        size = size.max(d.size());
        held = next;
        compile.push(t1 - t0);
        render.push(t2 - t1);
        delta.push(t3 - t2);
        total.push(t3 - t0);
    }
    println!(
        "tiered cluster: {} pods, {} NetworkPolicies, {} tiered policies; node-0's ruleset {} chains / {} rules / {} sets / {} elements, full replace {}",
        model.cluster.endpoints.len(),
        model.cluster.policies.len(),
        model.cluster.tier_policies.len(),
        stats.chains,
        stats.rules,
        stats.sets,
        stats.elements,
        ms(full)
    );
    println!(
        "one CNP change to the kernel (median of {}): tiers recompiled {}, render + diff {}, delta {} (largest {} changes): total {} (target < 200 ms)",
        total.len(),
        ms(median(compile)),
        ms(median(render)),
        ms(median(delta)),
        size,
        ms(median(total))
    );
    drop(kept);
    drop(topo);
    if a.packets {
        packet_path_of(&packet_model(&text), a.seconds, a.runs.min(7));
    }
}

fn packet_path_of(model: &Model, seconds: f64, reps: usize) {
    let pod = |name: &str, ip: [u8; 4]| PodSpec {
        name: name.into(),
        v4: Some(Ipv4Addr::from(ip)),
        ..PodSpec::default()
    };
    let mut node = NodeSpec::new(
        "node-0",
        Ipv4Addr::new(192, 168, 90, 1),
        Ipv6Addr::new(0xfd00, 0x90, 0, 0, 0, 0, 0, 1),
    );
    node.pods = vec![
        pod("bench/client", [10, 250, 0, 1]),
        pod("bench/server", [10, 250, 0, 2]),
    ];
    let topo = Topology::build(&TopologySpec { nodes: vec![node] }).expect("topology");
    let server = Worker::start(topo.netns("bench/server").unwrap()).expect("server ns");
    let client = Worker::start(topo.netns("bench/client").unwrap()).expect("client ns");
    // Thousands of short connections: let TIME_WAIT ports be reused.
    client
        .sysctls(vec![("net/ipv4/tcp_tw_reuse".into(), "1".into())])
        .expect("sysctl");
    let listener = server
        .run(|| TcpListener::bind("10.250.0.2:5201"))
        .expect("listen");
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    let to: SocketAddr = "10.250.0.2:5201".parse().unwrap();
    let nft = Nft::in_netns(topo.netns("node-0").unwrap());
    let rs = render_ruleset(model, &node_view(), &RenderOptions::default()).expect("render");
    let stats = rs.stats();
    // The baseline is netfence itself with no policy: the same table, hooks and
    // conntrack (as every cluster with kube-proxy has), nobody isolated.
    let mut bare = model.cluster.clone();
    bare.policies.clear();
    bare.policy_namespace.clear();
    bare.tier_policies.clear();
    let baseline = render_ruleset(
        &Model::compile(bare),
        &node_view(),
        &RenderOptions::default(),
    )
    .expect("render");
    let (mut base_rate, mut base_tp, mut pol_rate, mut pol_tp) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        nft.replace(&baseline).expect("baseline");
        base_rate.push(connection_rate(&client, to, seconds));
        base_tp.push(throughput(&client, to, seconds));
        nft.replace(&rs).expect("load");
        pol_rate.push(connection_rate(&client, to, seconds));
        pol_tp.push(throughput(&client, to, seconds));
    }
    nft.delete_table().expect("delete");
    let med = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (br, bt, pr, pt) = (med(base_rate), med(base_tp), med(pol_rate), med(pol_tp));
    println!(
        "\npacket path, client -> server on node-0 ({} policies and {} tiered policies in the cluster, ruleset {} chains / {} rules / {} elements), median of {reps} alternating runs of {seconds} s:",
        model.cluster.policies.len(),
        model.cluster.tier_policies.len(),
        stats.chains,
        stats.rules,
        stats.elements
    );
    println!(
        "  TCP connections/s   no policies {br:>10.0}   with policies {pr:>10.0}   ratio {:.3}",
        pr / br
    );
    println!(
        "  TCP throughput Gb/s no policies {bt:>10.2}   with policies {pt:>10.2}   ratio {:.3}",
        pt / bt
    );
}
