//! Connecting to the API server as kubectl does: the kubeconfig of `--kubeconfig`, else
//! the files of `$KUBECONFIG` merged (first one to set a value wins), else
//! `~/.kube/config`, else the in-cluster service account; the `--context`, `--cluster` and
//! `--user` overrides; and `--request-timeout` on every request.

use crate::api_failure::ApiFailure;
use crate::LoadError;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use std::path::PathBuf;
use std::time::Duration;

/// kubectl's global kubeconfig flags.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// `None`: no timeout (kubectl's `--request-timeout=0`, its default).
    pub request_timeout: Option<Duration>,
}

/// The API server spoken to, named in every error about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub server: String,
    /// The kubeconfig context, or `in-cluster`.
    pub context: String,
}

/// A client and what it talks to.
pub struct Connection {
    pub client: Client,
    pub target: Target,
    /// The namespace of the context (`default` when it names none).
    pub namespace: String,
    /// The --request-timeout in force, named when a request runs out of it.
    pub request_timeout: Option<Duration>,
}

/// Where the kubeconfig was read from, for errors.
struct Read {
    kubeconfig: Kubeconfig,
    from: String,
}

fn config_error(from: &str, message: impl ToString) -> LoadError {
    LoadError::Config(format!("{from}: {}", message.to_string()))
}

/// kube's error, but a file that cannot be read is named once, by `from`.
fn kubeconfig_error(from: &str, e: KubeconfigError) -> LoadError {
    match e {
        KubeconfigError::ReadConfig(io, _) => config_error(from, format!("cannot read it: {io}")),
        other => config_error(from, other),
    }
}

/// The kubeconfig kubectl would read; `None` when there is none at all (then the
/// in-cluster config is the only choice).
fn read_kubeconfig(options: &ConnectOptions) -> Result<Option<Read>, LoadError> {
    if let Some(path) = &options.kubeconfig {
        let from = path.display().to_string();
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(&from, e))?;
        return Ok(Some(Read { kubeconfig, from }));
    }
    let env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    if let Some(value) = env {
        let from = format!("$KUBECONFIG ({})", value.to_string_lossy());
        return match Kubeconfig::from_env() {
            Ok(Some(kubeconfig)) => Ok(Some(Read { kubeconfig, from })),
            Ok(None) => Ok(None),
            Err(e) => Err(kubeconfig_error(&from, e)),
        };
    }
    let Some(path) = std::env::home_dir().map(|h| h.join(".kube").join("config")) else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    let from = path.display().to_string();
    let kubeconfig = Kubeconfig::read_from(&path).map_err(|e| kubeconfig_error(&from, e))?;
    Ok(Some(Read { kubeconfig, from }))
}

/// kubectl's `--request-timeout` bounds each request: connecting, sending and waiting
/// for the answer. `None` leaves kube's defaults (no wait bound, as kubectl's 0).
fn apply_timeout(config: &mut Config, timeout: Option<Duration>) {
    if let Some(t) = timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = Some(t);
        config.write_timeout = Some(t);
        // Count from the request, not from when a pooled connection went idle.
        config.reset_reader_on_write = true;
    }
}

/// Connects as kubectl would with the same flags and environment.
pub async fn connect(options: &ConnectOptions) -> Result<Connection, LoadError> {
    let (mut config, context) = match read_kubeconfig(options)? {
        Some(Read { kubeconfig, from }) => {
            let context = options
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone())
                .ok_or_else(|| config_error(&from, "no current-context is set; pass --context"))?;
            if !kubeconfig.contexts.iter().any(|c| c.name == context) {
                let known: Vec<&str> = kubeconfig
                    .contexts
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(config_error(
                    &from,
                    format!("no context {context:?} (contexts: {})", known.join(", ")),
                ));
            }
            let kube_options = KubeConfigOptions {
                context: Some(context.clone()),
                cluster: options.cluster.clone(),
                user: options.user.clone(),
            };
            let config = Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                .await
                .map_err(|e| config_error(&format!("{from}, context {context}"), e))?;
            (config, context)
        }
        None => {
            if options.context.is_some() || options.cluster.is_some() || options.user.is_some() {
                return Err(LoadError::Config(
                    "no kubeconfig to take --context/--cluster/--user from ($KUBECONFIG is \
                     unset and ~/.kube/config does not exist; pass --kubeconfig)"
                        .into(),
                ));
            }
            let config = Config::incluster().map_err(|e| {
                LoadError::Config(format!(
                    "none found ($KUBECONFIG is unset, ~/.kube/config does not exist) and \
                     not in a pod ({e}); pass --kubeconfig, or -f to read manifests"
                ))
            })?;
            (config, "in-cluster".to_string())
        }
    };
    apply_timeout(&mut config, options.request_timeout);
    let target = Target {
        server: config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        context,
    };
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| LoadError::Cluster {
        target: target.clone(),
        error: Box::new(LoadError::Connect(ApiFailure::of(
            &e,
            options.request_timeout,
        ))),
    })?;
    Ok(Connection {
        client,
        target,
        namespace,
        request_timeout: options.request_timeout,
    })
}

impl Connection {
    /// Reads the cluster ([`crate::cluster::load_cluster`]); errors name the server and
    /// the context.
    pub async fn load(&self, default_ns: &str) -> Result<crate::Loaded, LoadError> {
        crate::cluster::load_cluster(&self.client, default_ns)
            .await
            .map_err(|mut e| {
                if let LoadError::Api {
                    failure: ApiFailure::TimedOut { after },
                    ..
                } = &mut e
                {
                    *after = self.request_timeout;
                }
                LoadError::Cluster {
                    target: self.target.clone(),
                    error: Box::new(e),
                }
            })
    }
}

/// The names a kubeconfig defines, for completing `--context`, `--cluster` and `--user`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KubeconfigNames {
    pub contexts: Vec<String>,
    pub clusters: Vec<String>,
    pub users: Vec<String>,
}

/// The names of the kubeconfig kubectl would read (`kubeconfig`, else `$KUBECONFIG`'s
/// files, else `~/.kube/config`); none when there is none or it cannot be read.
pub fn kubeconfig_names(kubeconfig: Option<PathBuf>) -> KubeconfigNames {
    let options = ConnectOptions {
        kubeconfig,
        ..Default::default()
    };
    let Ok(Some(Read { kubeconfig, .. })) = read_kubeconfig(&options) else {
        return KubeconfigNames::default();
    };
    KubeconfigNames {
        contexts: kubeconfig.contexts.into_iter().map(|c| c.name).collect(),
        clusters: kubeconfig.clusters.into_iter().map(|c| c.name).collect(),
        users: kubeconfig.auth_infos.into_iter().map(|u| u.name).collect(),
    }
}
