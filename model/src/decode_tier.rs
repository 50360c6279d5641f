//! The tiered policies and Nodes, from their serde mirrors ([`crate::raw_tier`]) to
//! [`TierPolicy`] and [`Node`], checked as the API server checks them: the CRDs' generated
//! schemas (enums, minimum/maximum, minItems/maxItems, maxLength, pattern, list sets,
//! MinProperties/MaxProperties 1 for "exactly one field") and CEL rules of
//! kubernetes-sigs/network-policy-api (`v0.2.0` for v1alpha2, `v0.1.8` for v1alpha1), plus
//! what the field docs require that the CRDs leave unchecked, where the model could not give
//! such an object a meaning (each such place says so). Every error names its field path,
//! as [`crate::decode`] does for NetworkPolicy, and its helpers are the same ones.

use crate::addr::parse_cel_cidr;
use crate::decode::{
    integer, labels_and_annotations, last_key, name, needle, port_number, protocol, selector,
};
use crate::error::Source;
use crate::objects::{Direction, FieldError};
use crate::ports::Protocol;
use crate::raw::IntField;
use crate::raw_tier as raw;
use crate::selector::LabelSelector;
use crate::tier::{
    Node, Tier, TierAction, TierKind, TierPeer, TierPolicy, TierPort, TierRule, TierSubject,
};
use crate::validate;
use ipnet::IpNet;
use std::net::IpAddr;

/// The fields a peer may have, in the order the API lists them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PeerField {
    Namespaces,
    Pods,
    Nodes,
    Networks,
    DomainNames,
}

impl PeerField {
    const fn key(self) -> &'static str {
        match self {
            PeerField::Namespaces => "namespaces",
            PeerField::Pods => "pods",
            PeerField::Nodes => "nodes",
            PeerField::Networks => "networks",
            PeerField::DomainNames => "domainNames",
        }
    }
}

/// Ingress peers of every kind: `ClusterNetworkPolicyIngressPeer` (v1alpha2) and
/// `AdminNetworkPolicyIngressPeer` (v1alpha1, also BaselineAdminNetworkPolicy's).
const INGRESS_PEERS: &[PeerField] = &[PeerField::Namespaces, PeerField::Pods];
/// `ClusterNetworkPolicyEgressPeer` (v0.2.0) and `AdminNetworkPolicyEgressPeer` (v0.1.8).
const EGRESS_PEERS: &[PeerField] = &[
    PeerField::Namespaces,
    PeerField::Pods,
    PeerField::Nodes,
    PeerField::Networks,
    PeerField::DomainNames,
];
/// `BaselineAdminNetworkPolicyEgressPeer` (v0.1.8): no domainNames.
const BASELINE_EGRESS_PEERS: &[PeerField] = &[
    PeerField::Namespaces,
    PeerField::Pods,
    PeerField::Nodes,
    PeerField::Networks,
];

/// What differs between the three kinds, from their types and CRDs.
struct Api {
    kind: TierKind,
    /// v1alpha2 (`tier`, `protocols`, `pods.namespaceSelector` optional) or v1alpha1.
    v1alpha2: bool,
    /// `ingress`/`egress` MaxItems, `from`/`to` MaxItems and `protocols`/`ports` MaxItems:
    /// 25 in v1alpha2, 100 in v1alpha1.
    max_items: usize,
    /// The `action` enum, with the internal action of each value.
    actions: &'static [(&'static str, TierAction)],
    egress_peers: &'static [PeerField],
}

impl Api {
    fn of(kind: TierKind) -> Api {
        match kind {
            TierKind::ClusterNetworkPolicy => Api {
                kind,
                v1alpha2: true,
                max_items: 25,
                actions: &[
                    ("Accept", TierAction::Accept),
                    ("Deny", TierAction::Deny),
                    ("Pass", TierAction::Pass),
                ],
                egress_peers: EGRESS_PEERS,
            },
            TierKind::AdminNetworkPolicy => Api {
                kind,
                v1alpha2: false,
                max_items: 100,
                actions: &[
                    ("Allow", TierAction::Accept),
                    ("Deny", TierAction::Deny),
                    ("Pass", TierAction::Pass),
                ],
                egress_peers: EGRESS_PEERS,
            },
            TierKind::BaselineAdminNetworkPolicy => Api {
                kind,
                v1alpha2: false,
                max_items: 100,
                actions: &[("Allow", TierAction::Accept), ("Deny", TierAction::Deny)],
                egress_peers: BASELINE_EGRESS_PEERS,
            },
        }
    }

    fn peers(&self, d: Direction) -> &'static [PeerField] {
        match d {
            Direction::Ingress => INGRESS_PEERS,
            Direction::Egress => self.egress_peers,
        }
    }

    /// The name of `action` in this kind's enum (`Allow` for Accept in v1alpha1).
    fn action_name(&self, action: TierAction) -> &'static str {
        self.actions
            .iter()
            .find(|(_, a)| *a == action)
            .map_or("", |(n, _)| n)
    }
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., end] => format!("{} {last} {end}", init.join(", ")),
    }
}

/// The MinProperties=1/MaxProperties=1 rule ("exactly one field must be set") of a
/// mapping at `path` whose allowed fields are `allowed` and of which `set` are present.
fn exactly_one(
    path: &str,
    allowed: &[&str],
    set: &[&str],
    needle: Option<String>,
) -> Result<(), FieldError> {
    let found = match set {
        [_] => return Ok(()),
        [] => "none".to_string(),
        _ => one_of(set, "and"),
    };
    // Point at the second field of two: the first is where the mapping starts.
    let needle = set.get(1).map(|k| k.to_string()).or(needle);
    Err(FieldError::new(
        path,
        format!(
            "exactly one of {} must be set, found {found}",
            one_of(allowed, "or")
        ),
        needle,
    ))
}

/// A list's MinItems/MaxItems.
fn item_count(
    len: usize,
    min: usize,
    max: usize,
    what: &str,
    path: &str,
    needle: Option<String>,
) -> Result<(), FieldError> {
    if len < min {
        let message = if min == 1 {
            "must not be empty".to_string()
        } else {
            format!("must have at least {min} {what}")
        };
        return Err(FieldError::new(path, message, needle));
    }
    if len > max {
        return Err(FieldError::new(
            path,
            format!("must have at most {max} {what}, found {len}"),
            needle,
        ));
    }
    Ok(())
}

/// `x-kubernetes-list-type: set`: no two equal items.
fn no_duplicates(items: &[String], path: &str) -> Result<(), FieldError> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(FieldError::new(
                format!("{path}[{i}]"),
                format!("duplicate value {item:?}"),
                needle(item, last_key(path)),
            ));
        }
    }
    Ok(())
}

/// A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy. The kinds are
/// cluster-scoped: a `metadata.namespace` is not looked at, as the API server clears it on
/// cluster-scoped objects before validating them (`rest.BeforeCreate`,
/// `EnsureObjectNamespaceMatchesRequestNamespace`).
pub(crate) fn tier_policy(
    kind: TierKind,
    doc: raw::TierPolicyDoc,
    source: Source,
) -> Result<TierPolicy, FieldError> {
    let api = Api::of(kind);
    // Custom resource names are DNS subdomains.
    let name = name(&doc.metadata, validate::dns1123_subdomain)?;
    labels_and_annotations(&doc.metadata, "metadata")?;
    // BaselineAdminNetworkPolicy's CEL rule `self.metadata.name == 'default'`.
    if kind == TierKind::BaselineAdminNetworkPolicy && name != "default" {
        return Err(FieldError::new(
            "metadata.name",
            format!(
                "{name:?}: only one baseline admin network policy with \
                 metadata.name=\"default\" can be created in the cluster"
            ),
            needle(&name, "name"),
        ));
    }
    let spec = doc
        .spec
        .ok_or_else(|| FieldError::new("spec", "is required", None))?;
    let tier = match (kind, spec.tier.as_deref()) {
        (TierKind::ClusterNetworkPolicy, None) => {
            return Err(FieldError::new(
                "spec.tier",
                "is required",
                Some("spec".into()),
            ))
        }
        (TierKind::ClusterNetworkPolicy, Some("Admin")) => Tier::Admin,
        (TierKind::ClusterNetworkPolicy, Some("Baseline")) => Tier::Baseline,
        (TierKind::ClusterNetworkPolicy, Some(other)) => {
            return Err(FieldError::new(
                "spec.tier",
                format!("unsupported value {other:?}: must be Admin or Baseline"),
                needle(other, "tier"),
            ))
        }
        (_, Some(t)) => {
            return Err(FieldError::new(
                "spec.tier",
                format!(
                    "not a field of {} (v1alpha1): its tier is {}; spec.tier is \
                     ClusterNetworkPolicy's (v1alpha2)",
                    kind.kind(),
                    if kind == TierKind::AdminNetworkPolicy {
                        "Admin"
                    } else {
                        "Baseline"
                    }
                ),
                needle(t, "tier"),
            ))
        }
        (TierKind::AdminNetworkPolicy, None) => Tier::Admin,
        (TierKind::BaselineAdminNetworkPolicy, None) => Tier::Baseline,
    };
    let priority = match (kind, &spec.priority) {
        (TierKind::BaselineAdminNetworkPolicy, None) => 0,
        (TierKind::BaselineAdminNetworkPolicy, Some(_)) => {
            return Err(FieldError::new(
                "spec.priority",
                "not a field of BaselineAdminNetworkPolicy: the one baseline policy has no \
                 priority",
                Some("priority".into()),
            ))
        }
        (_, None) => {
            return Err(FieldError::new(
                "spec.priority",
                "is required",
                Some("spec".into()),
            ))
        }
        (_, Some(p)) => {
            // Minimum=0, Maximum=1000 in both versions.
            let n = integer(p, "spec.priority")?;
            if !(0..=1000).contains(&n) {
                return Err(FieldError::new(
                    "spec.priority",
                    format!("priority {n} is out of range 0-1000"),
                    Some(n.to_string()),
                ));
            }
            n as u32
        }
    };
    let subject = subject(
        spec.subject
            .as_ref()
            .ok_or_else(|| FieldError::new("spec.subject", "is required", Some("spec".into())))?,
        &api,
    )?;
    let ingress = rules(spec.ingress.as_deref(), Direction::Ingress, &api)?;
    let egress = rules(spec.egress.as_deref(), Direction::Egress, &api)?;
    Ok(TierPolicy {
        kind,
        name,
        labels: doc.metadata.labels.clone().unwrap_or_default(),
        annotations: doc.metadata.annotations.clone().unwrap_or_default(),
        source,
        tier,
        priority,
        subject,
        ingress,
        egress,
    })
}

fn subject(s: &raw::Subject, api: &Api) -> Result<TierSubject, FieldError> {
    let path = "spec.subject";
    let set: Vec<&str> = [
        ("namespaces", s.namespaces.is_some()),
        ("pods", s.pods.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    exactly_one(path, &["namespaces", "pods"], &set, Some("subject".into()))?;
    if let Some(ns) = &s.namespaces {
        return Ok(TierSubject::Namespaces(selector(
            ns,
            &format!("{path}.namespaces"),
        )?));
    }
    let pods = s.pods.as_ref().expect("exactly one field is set");
    let (namespaces, pods) = namespaced_pod(pods, &format!("{path}.pods"), api)?;
    Ok(TierSubject::Pods { namespaces, pods })
}

/// `pods`: `podSelector` is required in both versions; `namespaceSelector` is required in
/// v1alpha1 and optional in v1alpha2, where leaving it out is the empty selector (every
/// namespace), as its field doc says.
fn namespaced_pod(
    p: &raw::NamespacedPod,
    path: &str,
    api: &Api,
) -> Result<(LabelSelector, LabelSelector), FieldError> {
    let pods = p.pod_selector.as_ref().ok_or_else(|| {
        FieldError::new(
            format!("{path}.podSelector"),
            "is required",
            needle_key(path),
        )
    })?;
    let namespaces = match &p.namespace_selector {
        Some(s) => selector(s, &format!("{path}.namespaceSelector"))?,
        None if api.v1alpha2 => LabelSelector::everything(),
        None => {
            return Err(FieldError::new(
                format!("{path}.namespaceSelector"),
                "is required",
                Some("podSelector".into()),
            ))
        }
    };
    Ok((namespaces, selector(pods, &format!("{path}.podSelector"))?))
}

/// The last key of a path (`from` for `spec.ingress[0].from[1]`), to look for.
fn needle_key(path: &str) -> Option<String> {
    Some(last_key(path).to_string())
}

/// A rule's line, for errors with no value of their own: its name, else its action.
fn rule_needle(r: &raw::TierRule, fallback: &str) -> Option<String> {
    let plain = |s: &&String| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic());
    r.name
        .as_ref()
        .filter(plain)
        .or(r.action.as_ref().filter(plain))
        .cloned()
        .or_else(|| Some(fallback.to_string()))
}

fn rules(
    rules: Option<&[raw::TierRule]>,
    d: Direction,
    api: &Api,
) -> Result<Vec<TierRule>, FieldError> {
    let Some(rules) = rules else {
        return Ok(Vec::new());
    };
    let path = format!("spec.{d}");
    // MaxItems on spec.ingress and spec.egress; no MinItems (an empty list is no rules).
    if let Some(extra) = rules.get(api.max_items) {
        item_count(
            rules.len(),
            0,
            api.max_items,
            "rules",
            &path,
            rule_needle(extra, d.as_str()),
        )?;
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| rule(r, &format!("{path}[{i}]"), d, api))
        .collect()
}

fn rule(r: &raw::TierRule, path: &str, d: Direction, api: &Api) -> Result<TierRule, FieldError> {
    let (peer_key, other_key) = match d {
        Direction::Ingress => ("from", "to"),
        Direction::Egress => ("to", "from"),
    };
    let (peers_raw, other) = match d {
        Direction::Ingress => (&r.from, &r.to),
        Direction::Egress => (&r.to, &r.from),
    };
    if other.is_some() {
        return Err(FieldError::new(
            format!("{path}.{other_key}"),
            format!("not a field of an {d} rule, which has {peer_key}"),
            Some(other_key.into()),
        ));
    }
    // v1alpha2 matches ports with `protocols`, v1alpha1 with `ports`; the other version's
    // field, dropped, would widen the rule to every port.
    let (ports_key, wrong_ports) = if api.v1alpha2 {
        ("ports", r.ports.is_some())
    } else {
        ("protocols", r.protocols.is_some())
    };
    if wrong_ports {
        return Err(FieldError::new(
            format!("{path}.{ports_key}"),
            if api.v1alpha2 {
                "not a field of ClusterNetworkPolicy (v1alpha2) rules, which match ports \
                 with protocols"
                    .to_string()
            } else {
                format!(
                    "not a field of {} (v1alpha1) rules, which match ports with ports",
                    api.kind.kind()
                )
            },
            Some(ports_key.into()),
        ));
    }
    // MaxLength=100 (the API server counts characters).
    let name = r.name.clone().unwrap_or_default();
    let chars = name.chars().count();
    if chars > 100 {
        return Err(FieldError::new(
            format!("{path}.name"),
            format!("must be no more than 100 characters, found {chars}"),
            needle(&name, "name"),
        ));
    }
    let action = match r.action.as_deref() {
        None => {
            return Err(FieldError::new(
                format!("{path}.action"),
                "is required",
                rule_needle(r, d.as_str()),
            ))
        }
        Some(a) => match api.actions.iter().find(|(n, _)| *n == a) {
            Some((_, action)) => *action,
            None => {
                let names: Vec<&str> = api.actions.iter().map(|(n, _)| *n).collect();
                let hint = match (api.v1alpha2, a) {
                    (true, "Allow") => " (Allow is v1alpha1's name for Accept)",
                    (false, "Accept") => " (Accept is v1alpha2's name for Allow)",
                    _ => "",
                };
                return Err(FieldError::new(
                    format!("{path}.action"),
                    format!(
                        "unsupported value {a:?}: must be {}{hint}",
                        one_of(&names, "or")
                    ),
                    needle(a, "action"),
                ));
            }
        },
    };
    let peers_path = format!("{path}.{peer_key}");
    // Required, MinItems=1; MaxItems 25 (v1alpha2) or 100 (v1alpha1).
    let peers_raw = peers_raw
        .as_deref()
        .ok_or_else(|| FieldError::new(&peers_path, "is required", rule_needle(r, d.as_str())))?;
    item_count(
        peers_raw.len(),
        1,
        api.max_items,
        "peers",
        &peers_path,
        Some(peer_key.into()),
    )?;
    let peers = peers_raw
        .iter()
        .enumerate()
        .map(|(i, p)| peer(p, &format!("{peers_path}[{i}]"), d, api))
        .collect::<Result<Vec<_>, _>>()?;
    let ports = if api.v1alpha2 {
        ports_list(r.protocols.as_deref(), "protocols", path, api, cnp_protocol)?
    } else {
        ports_list(r.ports.as_deref(), "ports", path, api, anp_port)?
    };
    // DomainNames "is only supported for Accept rules" (v0.2.0; "ALLOW rules" in v0.1.8).
    // The CRDs do not check it, but the model's domainNames peer matches nothing, which
    // fails closed only for Accept: a Deny or Pass rule on names would be silently void.
    if action != TierAction::Accept {
        if let Some(j) = peers_raw.iter().position(|p| p.domain_names.is_some()) {
            let names = peers_raw[j].domain_names.as_deref().unwrap_or_default();
            return Err(FieldError::new(
                format!("{peers_path}[{j}].domainNames"),
                format!(
                    "domainNames peers are only supported in {} rules, not {}",
                    api.action_name(TierAction::Accept),
                    api.action_name(action)
                ),
                names
                    .first()
                    .and_then(|n| needle(n, "domainNames"))
                    .or(Some("domainNames".into())),
            ));
        }
    }
    // The egress rules' CEL rule: no named port with a peer that has no pods.
    if d == Direction::Egress {
        named_ports_need_pods(&peers, ports.as_deref(), path, api)?;
    }
    Ok(TierRule {
        name,
        action,
        peers,
        ports,
    })
}

/// `!(self.to.exists(peer, has(peer.networks) || has(peer.nodes) || has(peer.domainNames))
/// && has(self.ports/protocols) && self.ports/protocols.exists(p, has(p.namedPort)))`
/// on egress rules (BaselineAdminNetworkPolicy's without domainNames, which it lacks).
fn named_ports_need_pods(
    peers: &[TierPeer],
    ports: Option<&[TierPort]>,
    path: &str,
    api: &Api,
) -> Result<(), FieldError> {
    let addresses = peers.iter().any(|p| {
        matches!(
            p,
            TierPeer::Networks(_) | TierPeer::Nodes(_) | TierPeer::DomainNames(_)
        )
    });
    let named = ports.into_iter().flatten().find_map(|p| match p {
        TierPort::Named(n) => Some(n),
        TierPort::Range { .. } => None,
    });
    match named {
        Some(n) if addresses => {
            let kinds = if api.kind == TierKind::BaselineAdminNetworkPolicy {
                "networks/nodes"
            } else {
                "networks/nodes/domainNames"
            };
            let key = if api.v1alpha2 {
                "destinationNamedPort"
            } else {
                "namedPort"
            };
            Err(FieldError::new(
                path,
                format!(
                    "{kinds} peer cannot be set with namedPorts since there are no namedPorts \
                     for {kinds}"
                ),
                needle(n, key),
            ))
        }
        _ => Ok(()),
    }
}

/// One peer. "Exactly one of the fields must be set": MinProperties=1, MaxProperties=1.
///
/// A peer with no field this version has (`{}`, or only fields of a newer API) is an
/// error. Upstream tells implementations that see such a peer to assume a CRD newer than
/// they know and to fail closed; but these objects come from files or from an API server
/// serving exactly these versions, whose CRD refuses an empty peer, so such a peer was
/// never admitted, and a file holding it would not apply. Reading it as "fail closed"
/// would give the file a meaning the cluster never would.
fn peer(p: &raw::TierPeer, path: &str, d: Direction, api: &Api) -> Result<TierPeer, FieldError> {
    let present: Vec<PeerField> = [
        (PeerField::Namespaces, p.namespaces.is_some()),
        (PeerField::Pods, p.pods.is_some()),
        (PeerField::Nodes, p.nodes.is_some()),
        (PeerField::Networks, p.networks.is_some()),
        (PeerField::DomainNames, p.domain_names.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    let allowed = api.peers(d);
    if let Some(f) = present.iter().find(|f| !allowed.contains(f)) {
        let keys: Vec<&str> = allowed.iter().map(|f| f.key()).collect();
        return Err(FieldError::new(
            format!("{path}.{}", f.key()),
            format!(
                "not a field of {d} peers of {}, which have {}",
                api.kind.kind(),
                one_of(&keys, "and")
            ),
            Some(f.key().into()),
        ));
    }
    let keys: Vec<&str> = allowed.iter().map(|f| f.key()).collect();
    let set: Vec<&str> = present.iter().map(|f| f.key()).collect();
    exactly_one(path, &keys, &set, needle_key(path))?;
    Ok(match present[0] {
        PeerField::Namespaces => TierPeer::Namespaces(selector(
            p.namespaces.as_ref().expect("present"),
            &format!("{path}.namespaces"),
        )?),
        PeerField::Pods => {
            let (namespaces, pods) = namespaced_pod(
                p.pods.as_ref().expect("present"),
                &format!("{path}.pods"),
                api,
            )?;
            TierPeer::Pods { namespaces, pods }
        }
        // "If present but empty, it selects all Nodes."
        PeerField::Nodes => TierPeer::Nodes(selector(
            p.nodes.as_ref().expect("present"),
            &format!("{path}.nodes"),
        )?),
        PeerField::Networks => TierPeer::Networks(networks(
            p.networks.as_deref().expect("present"),
            &format!("{path}.networks"),
        )?),
        PeerField::DomainNames => TierPeer::DomainNames(domain_names(
            p.domain_names.as_deref().expect("present"),
            &format!("{path}.domainNames"),
        )?),
    })
}

/// `networks`: MinItems=1, MaxItems=25, a set; each a `CIDR` (MaxLength=43, `isCIDR`).
/// Kept masked: `isCIDR` accepts host bits and the API server stores the text as written,
/// but what an implementation matches is the network, and so does the model.
fn networks(items: &[String], path: &str) -> Result<Vec<IpNet>, FieldError> {
    item_count(items.len(), 1, 25, "CIDRs", path, Some("networks".into()))?;
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let chars = s.chars().count();
        if chars > 43 {
            return Err(FieldError::new(
                ipath,
                format!("must be no more than 43 characters, found {chars}"),
                needle(s, "networks"),
            ));
        }
        out.push(parse_cel_cidr(s).map_err(|e| FieldError::new(&ipath, e, needle(s, "networks")))?);
    }
    no_duplicates(items, path)?;
    Ok(out)
}

/// `domainNames`: MinItems=1, MaxItems=25, a set, each matching the `DomainName` pattern.
fn domain_names(items: &[String], path: &str) -> Result<Vec<String>, FieldError> {
    item_count(
        items.len(),
        1,
        25,
        "domain names",
        path,
        Some("domainNames".into()),
    )?;
    for (i, s) in items.iter().enumerate() {
        if !is_domain_name(s) {
            return Err(FieldError::new(
                format!("{path}[{i}]"),
                format!(
                    "{s:?} is not a domain name: labels of letters, digits, '-' and '_' \
                     joined by '.', at least two, a '*' only as a whole first label ('*.')"
                ),
                needle(s, "domainNames"),
            ));
        }
    }
    no_duplicates(items, path)?;
    Ok(items.to_vec())
}

/// The `DomainName` pattern of both versions:
/// `^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`.
/// Note `A-z` in the first character's class (upstream's, kept as the API server applies
/// it): the range from `A` to `z` takes in `[`, `\`, `]`, `^`, `_` and the backquote.
fn is_domain_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = s.split('.').collect();
    let first = |b: u8| (b'A'..=b'z').contains(&b) || b.is_ascii_alphanumeric();
    let inner = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    labels.len() >= 2
        && labels.iter().all(|l| match l.as_bytes() {
            [] => false,
            [one] => first(*one),
            [head, mid @ .., tail] => {
                first(*head) && mid.iter().all(|&b| inner(b)) && tail.is_ascii_alphanumeric()
            }
        })
}

/// `protocols` (v1alpha2) or `ports` (v1alpha1): optional, but MinItems=1 when present;
/// MaxItems 25 or 100.
fn ports_list<T>(
    items: Option<&[T]>,
    key: &str,
    path: &str,
    api: &Api,
    one: fn(&T, &str) -> Result<TierPort, FieldError>,
) -> Result<Option<Vec<TierPort>>, FieldError> {
    let Some(items) = items else {
        return Ok(None);
    };
    let lpath = format!("{path}.{key}");
    item_count(
        items.len(),
        1,
        api.max_items,
        "entries",
        &lpath,
        Some(key.into()),
    )?;
    items
        .iter()
        .enumerate()
        .map(|(i, p)| one(p, &format!("{lpath}[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A v1alpha2 `protocols` entry: exactly one of tcp, udp, sctp, destinationNamedPort.
fn cnp_protocol(p: &raw::CnpProtocol, path: &str) -> Result<TierPort, FieldError> {
    let set: Vec<&str> = [
        ("tcp", p.tcp.is_some()),
        ("udp", p.udp.is_some()),
        ("sctp", p.sctp.is_some()),
        ("destinationNamedPort", p.destination_named_port.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    exactly_one(
        path,
        &["tcp", "udp", "sctp", "destinationNamedPort"],
        &set,
        Some("protocols".into()),
    )?;
    let (protocol, key, body) = match (&p.tcp, &p.udp, &p.sctp) {
        (Some(b), _, _) => (Protocol::Tcp, "tcp", b),
        (_, Some(b), _) => (Protocol::Udp, "udp", b),
        (_, _, Some(b)) => (Protocol::Sctp, "sctp", b),
        // The container port's name, not checked by the CRD: a name no container port
        // has matches nothing.
        _ => {
            return Ok(TierPort::Named(
                p.destination_named_port
                    .clone()
                    .expect("exactly one field is set"),
            ))
        }
    };
    let path = format!("{path}.{key}");
    // The body's MinProperties=1: destinationPort is its only field.
    let dp = body.destination_port.as_ref().ok_or_else(|| {
        FieldError::new(
            format!("{path}.destinationPort"),
            "is required",
            Some(key.into()),
        )
    })?;
    let dpath = format!("{path}.destinationPort");
    let set: Vec<&str> = [
        ("number", dp.number.is_some()),
        ("range", dp.range.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    exactly_one(
        &dpath,
        &["number", "range"],
        &set,
        Some("destinationPort".into()),
    )?;
    if let Some(n) = &dp.number {
        let npath = format!("{dpath}.number");
        let port = port_number(integer(n, &npath)?, &npath)?;
        return Ok(TierPort::Range {
            protocol,
            start: port,
            end: port,
        });
    }
    let r = dp.range.as_ref().expect("exactly one field is set");
    // CEL `self.start < self.end`.
    port_range(protocol, r, &format!("{dpath}.range"))
}

/// A range's `start` and `end`: both required, 1-65535, start < end (v1alpha2's CEL rule
/// `self.start < self.end`; v1alpha1's field docs, "the Start value must be less than End",
/// which its CRD does not check).
fn port_range(protocol: Protocol, r: &raw::PortRange, path: &str) -> Result<TierPort, FieldError> {
    let get = |f: &Option<IntField>, key: &str| {
        let fpath = format!("{path}.{key}");
        let f = f
            .as_ref()
            .ok_or_else(|| FieldError::new(&fpath, "is required", needle_key(path)))?;
        port_number(integer(f, &fpath)?, &fpath)
    };
    let start = get(&r.start, "start")?;
    let end = get(&r.end, "end")?;
    if start >= end {
        return Err(FieldError::new(
            path,
            format!("start port {start} must be less than end port {end}"),
            Some(end.to_string()),
        ));
    }
    Ok(TierPort::Range {
        protocol,
        start,
        end,
    })
}

/// A v1alpha1 `ports` entry: exactly one of portNumber, namedPort, portRange. Protocols
/// default to TCP (`+kubebuilder:default=TCP`). The CRD leaves `protocol` a free string
/// (`v1.Protocol`); its doc names TCP, UDP and SCTP, the only ones the model has, so
/// another one is refused (with Service's and NetworkPolicy's message).
fn anp_port(p: &raw::AnpPort, path: &str) -> Result<TierPort, FieldError> {
    let set: Vec<&str> = [
        ("portNumber", p.port_number.is_some()),
        ("namedPort", p.named_port.is_some()),
        ("portRange", p.port_range.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    exactly_one(
        path,
        &["portNumber", "namedPort", "portRange"],
        &set,
        Some("ports".into()),
    )?;
    if let Some(n) = &p.port_number {
        let npath = format!("{path}.portNumber");
        let protocol = protocol(n.protocol.as_deref(), &format!("{npath}.protocol"))?;
        let port_path = format!("{npath}.port");
        let port = n
            .port
            .as_ref()
            .ok_or_else(|| FieldError::new(&port_path, "is required", Some("portNumber".into())))?;
        let port = port_number(integer(port, &port_path)?, &port_path)?;
        return Ok(TierPort::Range {
            protocol,
            start: port,
            end: port,
        });
    }
    if let Some(r) = &p.port_range {
        let rpath = format!("{path}.portRange");
        let protocol = protocol(r.protocol.as_deref(), &format!("{rpath}.protocol"))?;
        return port_range(protocol, r, &rpath);
    }
    // Not checked by the CRD either: a name no container port has matches nothing.
    Ok(TierPort::Named(
        p.named_port.clone().expect("exactly one field is set"),
    ))
}

/// A Node (cluster-scoped: `metadata.namespace` is not looked at, as for the policies):
/// its name (a DNS subdomain), labels, and the addresses of `status.addresses` that are IP
/// addresses. `nodes` peers match "the IPs present in the node.Status.Addresses field";
/// `Hostname`, `InternalDNS` and `ExternalDNS` entries hold names and are skipped, as is
/// any entry whose address is not an IP (the API server does not check them).
pub(crate) fn node(doc: raw::NodeDoc, source: Source) -> Result<Node, FieldError> {
    let name = name(&doc.metadata, validate::dns1123_subdomain)?;
    labels_and_annotations(&doc.metadata, "metadata")?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    let entries = doc.status.and_then(|s| s.addresses).unwrap_or_default();
    for a in entries {
        if matches!(
            a.kind.as_deref(),
            Some("Hostname" | "InternalDNS" | "ExternalDNS")
        ) {
            continue;
        }
        if let Some(ip) = a.address.as_deref().and_then(|t| t.parse::<IpAddr>().ok()) {
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    Ok(Node {
        name,
        labels: doc.metadata.labels.unwrap_or_default(),
        addrs,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_name_pattern() {
        for ok in [
            "kubernetes.io",
            "blog.kubernetes.io",
            "*.kubernetes.io",
            "kubernetes.io.",
            "a.b",
            "x_y.example.com",
            "A-1.Example.COM",
            "_dmarc.example.com",
            // `A-z` takes in `[` (upstream's pattern, as the API server applies it).
            "[x.example.com",
        ] {
            assert!(is_domain_name(ok), "{ok}");
        }
        for bad in [
            "",
            "com",
            "com.",
            "*.com",
            "*kubernetes.io",
            "www.*.kubernetes.io",
            "**.kubernetes.io",
            "kubernetes..io",
            ".kubernetes.io",
            "kubernetes.io..",
            "-a.example.com",
            "a-.example.com",
            "a_.example.com",
            "ex ample.com",
            "exa!mple.com",
        ] {
            assert!(!is_domain_name(bad), "{bad}");
        }
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(one_of(&["a"], "or"), "a");
        assert_eq!(one_of(&["a", "b"], "or"), "a or b");
        assert_eq!(one_of(&["a", "b", "c"], "and"), "a, b and c");
    }
}
