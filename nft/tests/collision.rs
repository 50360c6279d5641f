//! Chain names an attacker can forge. With the old 48-bit FNV names, the policy
//! `aaa/x7254jad4ckm0` (found by a meet-in-the-middle search) got the chain names of
//! `prod/db`; its pod sorts first on the node, so its accept-all chain was defined first
//! and `prod/db`'s pod was dispatched to it. Here the kernel must drop what the analyzer
//! denies, and the old names must be refused by the renderer rather than reused.
//!
//! Needs root (network namespaces); fails rather than skips without it.

mod common;

use common::lab::{declared_ports, Lab};
use netfence_analyzer::{reach, Flow, Party};
use netfence_model::{compile_text, Family, Protocol};
use netfence_netns::{Probe, Protocol as Wire, Verdict};
use netfence_nft::names::Names;
use netfence_nft::{render_with_names, NodeView, RenderOptions, SetCache};

const VICTIM: &str = "prod/db";
const ATTACKER: &str = "aaa/x7254jad4ckm0";

/// The names before the fix (FNV-1a over the parts, 48 bits), to show the premise.
fn fnv48(prefix: &str, parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{prefix}_{:012x}", h & 0xffff_ffff_ffff)
}

const MODEL: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
status: {podIPs: [{ip: 10.77.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIPs: [{ip: 10.77.0.11}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: aaa, labels: {app: a}}
spec: {containers: [{name: c}]}
status: {podIPs: [{ip: 10.77.0.1}]}
---
# The victim: db accepts nothing and sends nothing.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
---
# The attacker: its own pod, open both ways, under a name whose old chain names are
# the victim's.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x7254jad4ckm0, namespace: aaa}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}]
"#;

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn a_forged_policy_name_cannot_open_another_tenants_pod() {
    // The premise: under the old names both policies' ingress and egress chains are one.
    for prefix in ["in", "eg"] {
        assert_eq!(fnv48(prefix, &[VICTIM]), fnv48(prefix, &[ATTACKER]));
    }
    let model = compile_text("t.yaml", MODEL, "default").unwrap();
    let (db, client) = (
        model.cluster.endpoint_by_key("prod/db-0").unwrap(),
        model.cluster.endpoint_by_key("prod/client").unwrap(),
    );
    let flow = |from, to| Flow {
        from: Party::Endpoint(from),
        to: Party::Endpoint(to),
        protocol: Some(Protocol::Tcp),
        port: Some(5432),
        family: Some(Family::V4),
    };
    assert!(
        !reach(&model, flow(client, db)).allowed,
        "the analyzer denies"
    );
    assert!(
        !reach(&model, flow(db, client)).allowed,
        "the analyzer denies"
    );

    // The old names through today's renderer: a hard error, not a reused chain.
    let err = render_with_names(
        &model,
        &NodeView::default(),
        &RenderOptions::default(),
        &mut SetCache::default(),
        Names::with_fn(fnv48),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(VICTIM) && err.to_string().contains(ATTACKER),
        "{err}"
    );

    // The real names in a real kernel: every probe as the analyzer says.
    let lab = Lab::build(&model, &declared_ports(&model, &[], 4), &[]);
    lab.load_full(&model, &RenderOptions::default());
    let db_addr = "10.77.0.10".parse().unwrap();
    let client_addr = "10.77.0.11".parse().unwrap();
    let probes = [
        Probe::new("prod/client", db_addr, Wire::Tcp, 5432),
        Probe::new("prod/db-0", client_addr, Wire::Tcp, 5432),
    ];
    for (probe, verdict) in probes.iter().zip(lab.topo.verdicts(&probes)) {
        assert!(
            matches!(verdict, Ok(Verdict::Dropped)),
            "{probe}: {verdict:?}, the analyzer denies it"
        );
    }
    let (allowed, denied) = lab.assert_agrees(&model, "forged policy name");
    assert!(allowed > 0 && denied > 0);
}
