//! Loads the model from manifests or the live cluster, reporting bad objects.

use crate::args::InputArgs;
use anyhow::{bail, Context, Result};
use netfence_analyzer::NameScope;
use netfence_loader::Loaded;
use netfence_model::{Cluster, ManifestError, Model, TargetNamespace};

pub struct Input {
    pub model: Model,
    /// How names given on the command line are looked up (-n, -A, defaulted objects).
    pub scope: NameScope,
    /// The explicit -n (the matrix still restricts its rows to it).
    pub only_namespace: Option<String>,
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
    if args.files.is_empty() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            let ns = match &args.namespace {
                Some(ns) => ns.clone(),
                None => netfence_loader::cluster::default_namespace(args.context.as_deref()).await,
            };
            let client = netfence_loader::cluster::client(args.context.as_deref())
                .await
                .context("connecting to the cluster (use -f to read manifests instead)")?;
            let loaded = netfence_loader::cluster::load_cluster(&client, &ns).await?;
            anyhow::Ok((loaded, ns))
        })
    } else {
        let ns = args.namespace.clone().unwrap_or_else(|| "default".into());
        let target = TargetNamespace {
            name: &ns,
            required: args.namespace.is_some(),
        };
        let loaded = netfence_loader::files::load_paths(&args.files, target)?;
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
    let (loaded, namespace) = read(args)?;
    let scope = scope(args, &loaded, namespace);
    let model = compile(loaded, args.keep_going)?;
    Ok(Input {
        model,
        scope,
        only_namespace: args.namespace.clone(),
    })
}

/// Like [`load`], but invalid objects are handed back instead of stopping the command
/// (lint reports them as findings).
pub fn load_with_errors(args: &InputArgs) -> Result<(Input, Vec<ManifestError>)> {
    let (mut loaded, namespace) = read(args)?;
    let scope = scope(args, &loaded, namespace);
    let errors = std::mem::take(&mut loaded.errors);
    let model = compile(loaded, true)?;
    Ok((
        Input {
            model,
            scope,
            only_namespace: args.namespace.clone(),
        },
        errors,
    ))
}

/// Reports errors and skipped kinds on stderr; without `keep_going` any invalid object
/// stops the command (exit 2).
pub fn compile(loaded: Loaded, keep_going: bool) -> Result<Model> {
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
    let cluster = Cluster::build(loaded.objects);
    for w in &cluster.warnings {
        eprintln!("warning: {w}");
    }
    Ok(Model::compile(cluster))
}
