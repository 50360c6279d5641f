//! Loads the model from manifests or the live cluster, reporting bad objects.

use crate::args::InputArgs;
use anyhow::{bail, Context, Result};
use netfence_loader::Loaded;
use netfence_model::{Cluster, ManifestError, Model};

pub struct Input {
    pub model: Model,
    /// Namespace for names given without one.
    pub default_ns: String,
    /// Restrict listings to this namespace (explicit -n).
    pub only_namespace: Option<String>,
}

/// Reads the objects of the manifests or the live cluster, and the namespace for names
/// given without one.
pub fn read(args: &InputArgs) -> Result<(Loaded, String)> {
    if args.files.is_empty() && args.kustomize.is_empty() {
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
        let loaded = netfence_loader::files::load_inputs(&args.files, &args.kustomize, &ns)?;
        Ok((loaded, ns))
    }
}

pub fn load(args: &InputArgs) -> Result<Input> {
    let (loaded, default_ns) = read(args)?;
    let model = compile(loaded, args.keep_going)?;
    Ok(Input {
        model,
        default_ns,
        only_namespace: args.namespace.clone(),
    })
}

/// Like [`load`], but invalid objects are handed back instead of stopping the command
/// (lint reports them as findings).
pub fn load_with_errors(args: &InputArgs) -> Result<(Input, Vec<ManifestError>)> {
    let (mut loaded, default_ns) = read(args)?;
    let errors = std::mem::take(&mut loaded.errors);
    let model = compile(loaded, true)?;
    Ok((
        Input {
            model,
            default_ns,
            only_namespace: args.namespace.clone(),
        },
        errors,
    ))
}

/// Reports errors and skipped kinds on stderr; without `keep_going` any invalid object
/// stops the command (exit 2).
pub fn compile(loaded: Loaded, keep_going: bool) -> Result<Model> {
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
    let cluster = Cluster::build(loaded.objects);
    for w in &cluster.warnings {
        eprintln!("warning: {w}");
    }
    Ok(Model::compile(cluster))
}
