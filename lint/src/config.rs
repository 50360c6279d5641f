//! The lint configuration file (`.netfence-lint.yaml`): checks to disable or enable,
//! findings to ignore per object, and the cluster's pod and Service networks.

use crate::catalogue::{self, Check};
use netfence_model::addr::parse_cidr;
use netfence_model::AddrSet;
use serde::Deserialize;

/// A finding to drop: a check id and, optionally, the object (`ns/name`, `ns/*`, or a
/// namespace's name) it is about. Without `object` the check is ignored everywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignore {
    pub id: &'static str,
    pub object: Option<String>,
}

impl Ignore {
    pub fn matches(&self, id: &str, key: &str) -> bool {
        if self.id != id {
            return false;
        }
        match self.object.as_deref() {
            None => true,
            Some(pattern) => match pattern.strip_suffix("/*") {
                Some(ns) => key.split('/').next() == Some(ns),
                None => pattern == key,
            },
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct LintConfig {
    pub disable: Vec<&'static str>,
    pub enable: Vec<&'static str>,
    pub ignore: Vec<Ignore>,
    /// Pod networks beyond the pod addresses found in the input.
    pub pod_networks: AddrSet,
    /// The same, as the CIDRs written (can-reach takes them as the pod network, where
    /// template pods get their addresses).
    pub pod_cidrs: Vec<ipnet::IpNet>,
    /// Service (ClusterIP) networks beyond the clusterIPs found in the input.
    pub service_networks: AddrSet,
}

impl LintConfig {
    /// Is the check on: enabled by default or by `enable`, and not disabled?
    pub fn is_enabled(&self, check: &Check) -> bool {
        !self.disable.contains(&check.id)
            && (check.default_enabled || self.enable.contains(&check.id))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    enable: Vec<String>,
    #[serde(default)]
    ignore: Vec<RawIgnore>,
    #[serde(default)]
    networks: RawNetworks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    id: String,
    object: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetworks {
    #[serde(default)]
    pods: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
}

fn known(id: &str, field: &str, file: &str) -> Result<&'static str, ConfigError> {
    catalogue::check(id)
        .map(|c| c.id)
        .ok_or_else(|| ConfigError {
            file: file.to_string(),
            message: format!("{field}: unknown check id {id:?} (see `lint --list`)"),
        })
}

fn networks(cidrs: &[String], field: &str, file: &str) -> Result<AddrSet, ConfigError> {
    let mut set = AddrSet::empty();
    for c in cidrs {
        let net = parse_cidr(c).map_err(|e| ConfigError {
            file: file.to_string(),
            message: format!("{field}: {e}"),
        })?;
        set = set.union(&AddrSet::from_net(&net));
    }
    Ok(set)
}

impl LintConfig {
    /// Parses the YAML text of a config file named `file` (for messages).
    pub fn parse(file: &str, text: &str) -> Result<LintConfig, ConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError {
                file: file.to_string(),
                message: e.to_string(),
            })?
        };
        let mut cfg = LintConfig::default();
        for id in &raw.disable {
            cfg.disable.push(known(id, "disable", file)?);
        }
        for id in &raw.enable {
            cfg.enable.push(known(id, "enable", file)?);
        }
        for (i, ig) in raw.ignore.iter().enumerate() {
            cfg.ignore.push(Ignore {
                id: known(&ig.id, &format!("ignore[{i}].id"), file)?,
                object: ig.object.clone().filter(|o| !o.is_empty()),
            });
        }
        cfg.pod_networks = networks(&raw.networks.pods, "networks.pods", file)?;
        cfg.pod_cidrs = raw
            .networks
            .pods
            .iter()
            .filter_map(|c| parse_cidr(c).ok())
            .collect();
        cfg.service_networks = networks(&raw.networks.services, "networks.services", file)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field() {
        let cfg = LintConfig::parse(
            "c.yaml",
            "disable: [NF302]\nenable: [nf701]\nignore:\n- {id: NF201, object: shop/api}\n- {id: NF501, object: 'monitoring/*'}\n- {id: NF101}\nnetworks: {pods: [10.244.0.0/16], services: [10.96.0.0/12]}\n",
        )
        .unwrap();
        assert_eq!(cfg.disable, vec!["NF302"]);
        assert_eq!(cfg.enable, vec!["NF701"]);
        assert!(cfg.ignore[0].matches("NF201", "shop/api"));
        assert!(!cfg.ignore[0].matches("NF201", "shop/db"));
        assert!(cfg.ignore[1].matches("NF501", "monitoring/x"));
        assert!(!cfg.ignore[1].matches("NF501", "shop/x"));
        assert!(cfg.ignore[2].matches("NF101", "any/thing"));
        assert!(cfg.pod_networks.contains(&"10.244.3.4".parse().unwrap()));
        assert!(cfg
            .service_networks
            .contains(&"10.96.0.10".parse().unwrap()));
        let off = catalogue::check("NF302").unwrap();
        assert!(!cfg.is_enabled(off));
        assert!(cfg.is_enabled(catalogue::check("NF701").unwrap()));
        assert!(!LintConfig::default().is_enabled(catalogue::check("NF701").unwrap()));
    }

    #[test]
    fn rejects_unknown_ids_fields_and_cidrs() {
        let e = LintConfig::parse("c.yaml", "disable: [NF999]\n").unwrap_err();
        assert!(e.to_string().contains("unknown check id \"NF999\""), "{e}");
        let e = LintConfig::parse("c.yaml", "ignores: []\n").unwrap_err();
        assert!(e.to_string().starts_with("c.yaml: "), "{e}");
        let e = LintConfig::parse("c.yaml", "networks: {pods: [10.0.0.0/40]}\n").unwrap_err();
        assert!(e.to_string().contains("networks.pods"), "{e}");
        assert!(LintConfig::parse("c.yaml", "").is_ok());
    }
}
