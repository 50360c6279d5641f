//! The controller counts a full replace only when the kernel holds it: with an `nft`
//! that exits 0 without applying (what `nft -j -f -` does on JSON it cannot read), the
//! replace is reported as an error, the old table stays, and it is retried until it
//! takes. Needs root; never skipped.

mod common;

use common::lab::Lab;
use common::{model, testdata, wait_enforced, Controller};
use netfence_model::Protocol;
use netfence_nft::RenderOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A directory of this test's own, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let d = std::env::temp_dir().join(format!("netfence-full-replace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PORTS: [(Protocol, u16); 2] = [(Protocol::Tcp, 80), (Protocol::Udp, 81)];

#[test]
#[ignore = "needs root (network namespaces, nftables): .ci/run runs it as root"]
fn an_unapplied_full_replace_is_not_counted_and_is_retried() {
    let base = std::fs::read_to_string(testdata().join("e2e/model.yaml")).unwrap();
    let deny =
        std::fs::read_to_string(testdata().join("e2e/scenarios/default-deny-all.yaml")).unwrap();
    let old = model(&base);
    let lab = Lab::build(&old, &PORTS, &[]);
    // The table a previous run left: nobody isolated.
    lab.load_full(&old, &RenderOptions::default());

    let dir = Scratch::new();
    let manifests = dir.0.join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("00-model.yaml"), &base).unwrap();
    std::fs::write(manifests.join("10-deny.yaml"), &deny).unwrap();
    // An nft that, while the flag exists, exits 0 on every `-f` without doing anything.
    let flag = dir.0.join("lie");
    std::fs::write(&flag, "").unwrap();
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft installed");
    let fake = dir.0.join("nft");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ -e {} ]; then case \"$*\" in *-f*) exit 0;; esac; fi\nexec {real} \"$@\"\n",
            flag.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &fake.display().to_string()])
        .status()
        .unwrap();
    let args = [
        "--manifests",
        manifests.to_str().unwrap(),
        "--poll-ms",
        "50",
        "--nft",
        fake.to_str().unwrap(),
    ];
    let ctls: Vec<Controller> = lab
        .nodes
        .iter()
        .map(|n| Controller::start(&lab, &n.name, &args, &[]))
        .collect();

    // Every node fails its first replace (and retries): reported, never counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    while ctls.iter().any(|c| c.metric("netfence_errors_total") < 2.0) {
        assert!(
            Instant::now() < deadline,
            "the failed replace was not reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in &ctls {
        assert_eq!(
            c.metric("netfence_applies_total"),
            0.0,
            "counted as applied"
        );
    }
    for n in &lab.nodes {
        lab.forget_connections(&n.name);
    }
    lab.assert_agrees(&old, "nft lying: the old table stays");

    // nft tells the truth again: the retry takes, and is counted.
    std::fs::remove_file(&flag).unwrap();
    let new = model(&format!("{base}\n---\n{deny}"));
    wait_enforced(&lab, &new, "after the retry");
    lab.assert_agrees(&new, "after the retry");
    for c in &ctls {
        assert!(c.metric("netfence_applies_total") >= 1.0);
    }
}
