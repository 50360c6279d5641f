//! The connectivity diff: pairs of manifest sets under `testdata/diff/` whose difference
//! is known, and seeded random clusters where every changed (pod pair, port) found by
//! the diff is checked against `reach` on both versions, pair by pair.

use netfence_analyzer::diff::{default_ports, diff, FlowChangeKind, Grouping};
use netfence_analyzer::{reach, Flow, MatrixPort, Party};
use netfence_model::ports::PortRef;
use netfence_model::{parse_manifest, Cluster, Model, Object};
use netfence_synth::{generate, SynthConfig};
use std::collections::BTreeSet;
use std::path::Path;

fn load_dir(dir: &Path) -> Model {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut objects: Vec<Object> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let parsed = parse_manifest(&f.display().to_string(), &text, "default");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        objects.extend(parsed.objects);
    }
    Model::compile(Cluster::build(objects))
}

fn case(name: &str) -> (Model, Model) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/diff")
        .join(name);
    (load_dir(&root.join("base")), load_dir(&root.join("head")))
}

/// (from, to, port, change) of every reported change.
fn summary(base: &Model, head: &Model) -> Vec<(String, String, String, FlowChangeKind)> {
    let d = diff(base, head, &default_ports(base, head), Grouping::Workload);
    d.changes
        .iter()
        .map(|c| {
            (
                c.from.to_string(),
                c.to.to_string(),
                c.port.to_string(),
                c.kind(),
            )
        })
        .collect()
}

fn t(
    from: &str,
    to: &str,
    port: &str,
    k: FlowChangeKind,
) -> (String, String, String, FlowChangeKind) {
    (from.into(), to.into(), port.into(), k)
}

#[test]
fn a_new_peer_opens_exactly_one_flow() {
    let (base, head) = case("open-db");
    assert_eq!(
        summary(&base, &head),
        vec![t(
            "shop/deploy/frontend",
            "shop/deploy/db",
            "5432/TCP",
            FlowChangeKind::NowAllowed
        )]
    );
    let d = diff(
        &base,
        &head,
        &default_ports(&base, &head),
        Grouping::Workload,
    );
    let c = &d.changes[0];
    assert_eq!(&*c.causes, ["shop/db".to_string()]);
    assert!(
        c.allowed_by
            .contains(&"shop/db ingress[0].from[1]".to_string()),
        "{c:?}"
    );
    assert_eq!(
        c.denied_by,
        vec!["ingress of shop/deploy/db isolated by [shop/db]".to_string()]
    );
    assert_eq!(
        (c.before, c.after, c.pairs, c.gained, c.lost),
        (0, 1, 1, 1, 0)
    );
    assert_eq!(d.newly_allowed(), 1);
    assert_eq!(d.newly_denied(), 0);
    // The reverse diff denies the same flow.
    assert_eq!(
        summary(&head, &base),
        vec![t(
            "shop/deploy/frontend",
            "shop/deploy/db",
            "5432/TCP",
            FlowChangeKind::NowDenied
        )]
    );
}

#[test]
fn a_default_deny_closes_every_flow_it_does_not_allow() {
    let (base, head) = case("default-deny");
    use FlowChangeKind::NowDenied as D;
    assert_eq!(
        summary(&base, &head),
        vec![
            t("other/deploy/c", "web/deploy/a", "8080/TCP", D),
            t("other/deploy/c", "web/deploy/b", "8080/TCP", D),
            t("web/deploy/b", "web/deploy/a", "8080/TCP", D),
        ]
    );
    let d = diff(
        &base,
        &head,
        &default_ports(&base, &head),
        Grouping::Workload,
    );
    let kinds: Vec<_> = d.policy_changes.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(kinds, vec!["added", "added"]);
    assert_eq!(
        &*d.changes[2].causes,
        ["web/default-deny-ingress".to_string()]
    );
}

#[test]
fn label_changes_are_found_without_policy_changes() {
    let (base, head) = case("relabel");
    assert_eq!(
        summary(&base, &head),
        vec![t(
            "shop/deploy/client",
            "shop/deploy/api",
            "8080/TCP",
            FlowChangeKind::NowDenied
        )]
    );
    let d = diff(
        &base,
        &head,
        &default_ports(&base, &head),
        Grouping::Workload,
    );
    assert!(d.policy_changes.is_empty());
    assert!(d.changes[0].causes.is_empty());
    assert_eq!(d.added, vec!["shop/deploy/batch".to_string()]);
    assert!(d.removed.is_empty());
}

#[test]
fn identical_versions_have_no_difference() {
    let (base, _) = case("open-db");
    let (again, _) = case("open-db");
    let d = diff(&base, &again, &default_ports(&base, &again), Grouping::Pod);
    assert!(d.changes.is_empty() && d.policy_changes.is_empty());
}

/// Head: the same cluster with every third policy document dropped, one pod in seven
/// removed (so endpoints differ between the versions) and, for one pod in five, its
/// first label changed (so both policy and label changes occur).
fn mutate(text: &str) -> String {
    let mut out = Vec::new();
    let mut policy_index = 0;
    let mut pod_index = 0;
    for doc in text.split("\n---\n") {
        if doc.contains("kind: NetworkPolicy") {
            policy_index += 1;
            if policy_index % 3 == 0 {
                continue;
            }
            out.push(doc.to_string());
        } else if doc.contains("kind: Pod\n") {
            pod_index += 1;
            if pod_index % 7 == 0 {
                continue;
            }
            if pod_index % 5 == 0 {
                out.push(doc.replacen("app: ", "app: renamed-", 1));
            } else {
                out.push(doc.to_string());
            }
        } else {
            out.push(doc.to_string());
        }
    }
    out.join("\n---\n")
}

fn model_of(text: &str) -> Model {
    let parsed = parse_manifest("synth.yaml", text, "default");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    Model::compile(Cluster::build(parsed.objects))
}

#[test]
fn diff_agrees_with_reach_on_random_clusters() {
    let mut compared = 0;
    let mut changed = 0;
    for seed in 0..40 {
        let text = generate(&SynthConfig::small(seed));
        let (base, head) = (model_of(&text), model_of(&mutate(&text)));
        let ports = default_ports(&base, &head);
        let d = diff(&base, &head, &ports, Grouping::Pod);
        let found: BTreeSet<(String, String, String)> = d
            .changes
            .iter()
            .map(|c| (c.from.to_string(), c.to.to_string(), c.port.to_string()))
            .collect();
        let mut expected = BTreeSet::new();
        for s in &base.cluster.endpoints {
            let sn = base.cluster.endpoint_name(s.id);
            let Some(hs) = head.cluster.endpoint_by_key(&sn) else {
                continue;
            };
            for t in &base.cluster.endpoints {
                let tn = base.cluster.endpoint_name(t.id);
                let Some(ht) = head.cluster.endpoint_by_key(&tn) else {
                    continue;
                };
                if s.id == t.id {
                    continue;
                }
                for p in &ports {
                    let MatrixPort {
                        port: PortRef::Number(n),
                        protocol,
                    } = p
                    else {
                        unreachable!("default ports are numbers")
                    };
                    let flow = |m: &Model, a, b| {
                        reach(
                            m,
                            Flow {
                                from: Party::Endpoint(a),
                                to: Party::Endpoint(b),
                                protocol: Some(*protocol),
                                port: Some(*n),
                                family: None,
                            },
                        )
                        .allowed
                    };
                    // The matrix only counts ports the destination defines when the
                    // column is named; numeric columns hold on every destination.
                    compared += 1;
                    if flow(&base, s.id, t.id) != flow(&head, hs, ht) {
                        expected.insert((sn.clone(), tn.clone(), p.to_string()));
                    }
                }
            }
        }
        changed += expected.len();
        assert_eq!(found, expected, "seed {seed}");
    }
    assert!(
        changed > 50,
        "the mutation changed too little: {changed} of {compared}"
    );
}

/// Outside parties: each class of addresses the policies tell apart is compared with
/// every workload both ways, every change checked against `reach` on both versions; a
/// port the destination does not declare counts only with `all_ports`.
#[test]
fn flows_to_and_from_outside_and_only_listening_ports() {
    use netfence_analyzer::diff::{diff_with, DiffOptions};
    let (base, head) = case("outside");
    let ports = default_ports(&base, &head);
    let shown = |options| -> Vec<(String, String, String, FlowChangeKind)> {
        diff_with(&base, &head, &ports, Grouping::Workload, options)
            .changes
            .iter()
            .map(|c| {
                (
                    c.from.to_string(),
                    c.to.to_string(),
                    c.port.to_string(),
                    c.kind(),
                )
            })
            .collect()
    };
    let default = shown(DiffOptions {
        all_ports: false,
        outside: true,
    });
    assert_eq!(
        default,
        [
            (
                "198.51.100.0/24".into(),
                "shop/deploy/api".into(),
                "9090/TCP".into(),
                FlowChangeKind::NowAllowed
            ),
            (
                "shop/deploy/frontend".into(),
                "203.0.113.128/25".into(),
                "443/TCP".into(),
                FlowChangeKind::NowDenied
            ),
        ]
    );
    let all = shown(DiffOptions {
        all_ports: true,
        outside: true,
    });
    assert!(all.contains(&(
        "shop/deploy/frontend".into(),
        "shop/deploy/api".into(),
        "8080/TCP".into(),
        FlowChangeKind::NowAllowed
    )));
    assert_eq!(all.len(), 3, "{all:?}");
    // The reported outside changes are what reach says of a representative address.
    for (addr, gained_in_head) in [("198.51.100.7", true), ("203.0.113.200", false)] {
        let net: ipnet::IpNet = format!("{addr}/32").parse().unwrap();
        let verdict = |m: &Model| {
            let api = m.cluster.endpoint_by_key("shop/deploy/api");
            let frontend = m.cluster.endpoint_by_key("shop/deploy/frontend");
            let flow = if gained_in_head {
                Flow {
                    from: Party::External(net),
                    to: Party::Endpoint(api.unwrap()),
                    protocol: None,
                    port: Some(9090),
                    family: None,
                }
            } else {
                Flow {
                    from: Party::Endpoint(frontend.unwrap()),
                    to: Party::External(net),
                    protocol: None,
                    port: Some(443),
                    family: None,
                }
            };
            reach(m, flow).allowed
        };
        assert_eq!(verdict(&base), !gained_in_head, "{addr} in base");
        assert_eq!(verdict(&head), gained_in_head, "{addr} in head");
    }
}
