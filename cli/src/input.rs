//! Loads the model from manifests or the live cluster, reporting bad objects.

use crate::args::InputArgs;
use anyhow::{bail, Context, Result};
use netfence_analyzer::NameScope;
use netfence_loader::Loaded;
use netfence_model::stand_in::StandInRules;
use netfence_model::{Cluster, ManifestError, Model, TargetNamespace};

/// What the input does not hold but the user tells: the pod network and the stand-in
/// rules for custom resources.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub pod_networks: Vec<ipnet::IpNet>,
    pub stand_ins: StandInRules,
}

/// The lint configuration read when no --pod-cidr is given.
const LINT_CONFIG: &str = ".netfence-lint.yaml";

impl Facts {
    /// From the flags: --pod-cidr (else `lint_pods`, the lint configuration's
    /// `networks.pods` when the command has read one, else those of
    /// ./.netfence-lint.yaml) and the built-in stand-ins with --stand-ins on top.
    pub fn of(args: &InputArgs, lint_pods: Option<&[ipnet::IpNet]>) -> Result<Facts> {
        let mut pod_networks = args.pod_cidrs.clone();
        if let (true, Some(pods)) = (pod_networks.is_empty(), lint_pods) {
            pod_networks = pods.to_vec();
        } else if pod_networks.is_empty() && std::path::Path::new(LINT_CONFIG).is_file() {
            let text = std::fs::read_to_string(LINT_CONFIG)
                .with_context(|| format!("reading {LINT_CONFIG}"))?;
            let cfg = netfence_lint::config::LintConfig::parse(LINT_CONFIG, &text)?;
            pod_networks = cfg.pod_cidrs;
        }
        let mut stand_ins = StandInRules::builtin();
        if let Some(path) = &args.stand_ins {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read stand-ins file {shown}"))?;
            for rule in StandInRules::parse(&shown, &text).map_err(anyhow::Error::msg)? {
                stand_ins.insert(rule);
            }
        }
        Ok(Facts {
            pod_networks,
            stand_ins,
        })
    }
}

pub struct Input {
    pub model: Model,
    /// How names given on the command line are looked up (-n, -A, defaulted objects).
    pub scope: NameScope,
}

/// Reads the objects of the manifests or the live cluster, and the namespace for names
/// given without one: -n, else the kubeconfig context's for the cluster, `default` for
/// files. With -n, a manifest object written in another namespace is invalid (as
/// `kubectl apply -n` refuses it); without it, the objects placed in the default
/// namespace for want of one are counted in a note.
pub fn read(args: &InputArgs) -> Result<(Loaded, String)> {
    let (loaded, ns) = read_objects(args)?;
    if args.namespace.is_none() && !loaded.defaulted.is_empty() {
        eprintln!(
            "note: {} object(s) without a namespace were placed in {ns} (pass -n to choose)",
            loaded.defaulted.len()
        );
    }
    Ok((loaded, ns))
}

fn read_objects(args: &InputArgs) -> Result<(Loaded, String)> {
    if args.files.is_empty() && args.kustomize.is_empty() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            let connection = netfence_loader::connect::connect(&args.kube.connect_options())
                .await
                .context("connecting to the cluster (use -f to read manifests instead)")?;
            let ns = match &args.namespace {
                Some(ns) => ns.clone(),
                None => connection.namespace.clone(),
            };
            let loaded = connection.load(&ns).await?;
            anyhow::Ok((loaded, ns))
        })
    } else {
        let ns = args.namespace.clone().unwrap_or_else(|| "default".into());
        let target = TargetNamespace {
            name: &ns,
            required: args.namespace.is_some(),
        };
        let loaded = netfence_loader::files::load_inputs(&args.files, &args.kustomize, target)?;
        Ok((loaded, ns))
    }
}

/// Names are looked up in `namespace` (every one with -A); the objects placed there
/// for want of a namespace are remembered unless -n chose it, so that a name not found
/// can point at them.
fn scope(args: &InputArgs, loaded: &Loaded, namespace: String) -> NameScope {
    NameScope {
        namespace,
        all_namespaces: args.all_namespaces,
        defaulted: if args.namespace.is_some() {
            Vec::new()
        } else {
            loaded.defaulted.clone()
        },
    }
}

pub fn load(args: &InputArgs) -> Result<Input> {
    let facts = Facts::of(args, None)?;
    let (loaded, namespace) = read(args)?;
    let scope = scope(args, &loaded, namespace);
    let model = compile_with(loaded, args.keep_going, &facts)?;
    Ok(Input { model, scope })
}

/// Like [`load`], but invalid objects are handed back instead of stopping the command
/// (lint reports them as findings); `lint_pods` are the pod networks of the lint
/// configuration in use (see [`Facts::of`]).
pub fn load_with_errors(
    args: &InputArgs,
    lint_pods: &[ipnet::IpNet],
) -> Result<(Input, Vec<ManifestError>)> {
    let facts = Facts::of(args, Some(lint_pods))?;
    let (mut loaded, namespace) = read(args)?;
    let scope = scope(args, &loaded, namespace);
    let errors = std::mem::take(&mut loaded.errors);
    let model = compile_with(loaded, true, &facts)?;
    Ok((Input { model, scope }, errors))
}

/// Reports errors and skipped kinds on stderr; without `keep_going` any invalid object
/// stops the command (exit 2).
pub fn compile(loaded: Loaded, keep_going: bool) -> Result<Model> {
    compile_with(loaded, keep_going, &Facts::default())
}

/// [`compile`] with the facts the user told.
pub fn compile_with(mut loaded: Loaded, keep_going: bool, facts: &Facts) -> Result<Model> {
    // Custom resources with a stand-in are read, not ignored.
    for cr in &loaded.custom {
        if facts.stand_ins.find(&cr.group, &cr.kind).is_some() {
            if let Some(n) = loaded.skipped.get_mut(&cr.kind) {
                *n -= 1;
            }
        }
    }
    loaded.skipped.retain(|_, n| *n > 0);
    for n in &loaded.notes {
        eprintln!("note: {n}");
    }
    for e in &loaded.errors {
        eprintln!("error: {e}");
    }
    if !loaded.errors.is_empty() && !keep_going {
        bail!(
            "{} invalid object(s); fix them or pass --keep-going to analyze the rest",
            loaded.errors.len()
        );
    }
    if !loaded.skipped.is_empty() {
        let kinds: Vec<String> = loaded
            .skipped
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        eprintln!(
            "note: ignored {} object(s) of other kinds ({})",
            loaded.skipped.values().sum::<usize>(),
            kinds.join(", ")
        );
    }
    let mut cluster = Cluster::build_with(loaded.objects, loaded.custom, &facts.stand_ins);
    cluster.pod_networks = facts.pod_networks.clone();
    for w in &cluster.warnings {
        eprintln!("warning: {w}");
    }
    let model = Model::compile(cluster);
    stand_in_notes(&model);
    Ok(model)
}

/// Says which custom resources stand in for pods, and which ones could matter but have
/// no stand-in.
fn stand_in_notes(model: &Model) {
    let cluster = &model.cluster;
    let standing: Vec<String> = cluster
        .endpoints
        .iter()
        .filter(|e| e.kind == netfence_model::EndpointKind::StandIn)
        .map(|e| cluster.endpoint_name(e.id))
        .collect();
    if !standing.is_empty() {
        eprintln!(
            "note: stand-ins for pods that operators create from custom resources: {}",
            standing.join(", ")
        );
    }
    for u in model.unrepresented_custom_resources() {
        let (noun, verb) = if u.count == 1 {
            ("custom resource", "whose pods an operator creates")
        } else {
            ("custom resources", "whose pods an operator creates")
        };
        eprintln!(
            "note: {} has {} {} {noun} {verb}; without a stand-in (--stand-ins) their labels are unknown, and {}",
            u.namespace, u.count, u.kind, u.why
        );
    }
}
