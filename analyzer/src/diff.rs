//! Connectivity diff between two versions of the manifests: which flows become allowed
//! and which become denied, per workload (or pod) pair and port, and the policy changes
//! that caused each.
//!
//! Both versions are compiled separately; endpoints are matched by name (`ns/name`,
//! `ns/kind/name`). Only pairs whose two ends exist in both versions are compared;
//! workloads that appear or disappear are listed on their own.

use crate::explain::{allow_origin, flow_port_set, tier_origin};
use crate::matrix::{Matrix, MatrixPort};
use crate::reach::{reach, DirectionReach, Flow, Reach};
use netfence_model::objects::{Direction, Policy};
use netfence_model::outside::{outside_classes, OutsideClass};
use netfence_model::ports::PortRef;
use netfence_model::tier::{Tier, TierPolicy};
use netfence_model::tiers::{policy_key, TierStackId};
use netfence_model::Isolation;
use netfence_model::Party;
use netfence_model::{EndpointId, EndpointSet, Family, Model, PortSet, Protocol, Source, UnionId};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Rows and columns of the diff: pods, or the workloads owning them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Grouping {
    Pod,
    Workload,
}

/// What a diff compares besides every pod pair on every port.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DiffOptions {
    /// Also flows to a destination on a port it does not declare (by default only the
    /// ports a destination listens on count; one that declares none listens on all).
    pub all_ports: bool,
    /// Also flows to and from the addresses outside the cluster, one per class of
    /// addresses the policies tell apart (`netfence_model::outside`).
    pub outside: bool,
}

impl DiffOptions {
    /// Every pod pair on every port, no outside parties: the whole matrix compared.
    pub const PODS_ALL_PORTS: DiffOptions = DiffOptions {
        all_ports: true,
        outside: false,
    };
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum PolicyChangeKind {
    Added,
    Removed,
    Changed,
}

impl PolicyChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyChangeKind::Added => "added",
            PolicyChangeKind::Removed => "removed",
            PolicyChangeKind::Changed => "changed",
        }
    }
}

/// A policy that differs between the versions (`ns/name`), and where it is written
/// (in head, or in base when removed).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyChange {
    pub key: String,
    pub kind: PolicyChangeKind,
    pub source: Source,
}

/// Whether a flow became allowed, denied, or some pairs each way.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum FlowChangeKind {
    NowAllowed,
    NowDenied,
    Mixed,
}

impl FlowChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowChangeKind::NowAllowed => "allowed",
            FlowChangeKind::NowDenied => "denied",
            FlowChangeKind::Mixed => "mixed",
        }
    }
}

/// A flow between two groups on one port whose allowed pod pairs changed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FlowChange {
    /// Group names are shared between the changes that name them (a large diff has
    /// millions of changes).
    pub from: Arc<str>,
    pub to: Arc<str>,
    pub port: MatrixPort,
    /// Pod pairs compared (ends present in both versions, self pairs left out).
    pub pairs: usize,
    /// Allowed pairs in base and head.
    pub before: usize,
    pub after: usize,
    /// Pairs that became allowed / denied.
    pub gained: usize,
    pub lost: usize,
    /// Changed policies among those isolating either end, in either version (`ns/name`).
    pub causes: Arc<[String]>,
    /// For one changed pair: the rules allowing it in the version where it is allowed
    /// (`ns/policy ingress[0].from[1]`, or "egress of x not isolated").
    pub allowed_by: Vec<String>,
    /// For the same pair: why it is denied in the other version.
    pub denied_by: Vec<String>,
}

impl FlowChange {
    pub fn kind(&self) -> FlowChangeKind {
        match (self.gained > 0, self.lost > 0) {
            (true, false) => FlowChangeKind::NowAllowed,
            (false, true) => FlowChangeKind::NowDenied,
            _ => FlowChangeKind::Mixed,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Diff {
    pub ports: Vec<MatrixPort>,
    pub policy_changes: Vec<PolicyChange>,
    /// Sorted by from, to, port.
    pub changes: Vec<FlowChange>,
    /// Groups only in head / only in base.
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Diff {
    pub fn newly_allowed(&self) -> usize {
        self.changes.iter().filter(|c| c.gained > 0).count()
    }

    pub fn newly_denied(&self) -> usize {
        self.changes.iter().filter(|c| c.lost > 0).count()
    }
}

/// Every container port declared in either version (80/TCP if none).
pub fn default_ports(base: &Model, head: &Model) -> Vec<MatrixPort> {
    let set: BTreeSet<(Protocol, u16)> = [base, head]
        .iter()
        .flat_map(|m| m.cluster.endpoints.iter())
        .flat_map(|e| e.ports.iter())
        .map(|p| (p.protocol, p.port))
        .collect();
    if set.is_empty() {
        return vec![MatrixPort {
            port: PortRef::Number(80),
            protocol: Protocol::Tcp,
        }];
    }
    let mut ports: Vec<(u16, Protocol)> = set.into_iter().map(|(p, n)| (n, p)).collect();
    ports.sort();
    ports
        .into_iter()
        .map(|(port, protocol)| MatrixPort {
            port: PortRef::Number(port),
            protocol,
        })
        .collect()
}

/// The port numbers the egress rules of either version write (a range by its first
/// port), beside `ports`: what an address outside listens on, as far as a diff can
/// tell.
pub fn outside_ports(base: &Model, head: &Model, ports: &[MatrixPort]) -> Vec<MatrixPort> {
    let mut set: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    for m in [base, head] {
        for p in &m.cluster.policies {
            for rule in p.rules(Direction::Egress) {
                for spec in &rule.ports {
                    if let netfence_model::PortSpec::Range {
                        protocol, start, ..
                    } = spec
                    {
                        set.insert((*protocol, *start));
                    }
                }
            }
        }
        for p in &m.cluster.tier_policies {
            for rule in &p.egress {
                for port in rule.ports.iter().flatten() {
                    if let netfence_model::tier::TierPort::Range {
                        protocol, start, ..
                    } = port
                    {
                        set.insert((*protocol, *start));
                    }
                }
            }
        }
    }
    let mut out = ports.to_vec();
    for (protocol, port) in set {
        let p = MatrixPort {
            port: PortRef::Number(port),
            protocol,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The part of a policy that decides traffic (not its labels, annotations or line).
fn same_effect(a: &Policy, b: &Policy) -> bool {
    a.pod_selector == b.pod_selector
        && a.affects_ingress == b.affects_ingress
        && a.affects_egress == b.affects_egress
        && Direction::BOTH.iter().all(|d| a.rules(*d) == b.rules(*d))
}

/// The part of a tiered policy that decides traffic.
fn same_tier_effect(a: &TierPolicy, b: &TierPolicy) -> bool {
    a.tier == b.tier
        && a.priority == b.priority
        && a.subject == b.subject
        && a.ingress == b.ingress
        && a.egress == b.egress
}

/// Tiered policies (`cnp/name`, `anp/name`, `banp/name`) added, removed or changed.
fn tier_policy_changes(base: &Model, head: &Model, out: &mut Vec<PolicyChange>) {
    let index = |m: &Model| -> HashMap<String, usize> {
        (m.cluster.tier_policies.iter().enumerate())
            .map(|(i, p)| (p.key(), i))
            .collect()
    };
    let (in_base, in_head) = (index(base), index(head));
    for p in &head.cluster.tier_policies {
        let kind = match in_base.get(&p.key()) {
            None => PolicyChangeKind::Added,
            Some(&b) if !same_tier_effect(&base.cluster.tier_policies[b], p) => {
                PolicyChangeKind::Changed
            }
            Some(_) => continue,
        };
        out.push(PolicyChange {
            key: p.key(),
            kind,
            source: p.source.clone(),
        });
    }
    for p in &base.cluster.tier_policies {
        if !in_head.contains_key(&p.key()) {
            out.push(PolicyChange {
                key: p.key(),
                kind: PolicyChangeKind::Removed,
                source: p.source.clone(),
            });
        }
    }
}

fn policy_changes(base: &Model, head: &Model) -> Vec<PolicyChange> {
    let mut out = Vec::new();
    tier_policy_changes(base, head, &mut out);
    for p in &head.cluster.policies {
        let kind = match base.cluster.policy_id(&p.meta.namespace, &p.meta.name) {
            None => PolicyChangeKind::Added,
            Some(b) if !same_effect(base.cluster.policy(b), p) => PolicyChangeKind::Changed,
            Some(_) => continue,
        };
        out.push(PolicyChange {
            key: p.key(),
            kind,
            source: p.meta.source.clone(),
        });
    }
    for p in &base.cluster.policies {
        if head
            .cluster
            .policy_id(&p.meta.namespace, &p.meta.name)
            .is_none()
        {
            out.push(PolicyChange {
                key: p.key(),
                kind: PolicyChangeKind::Removed,
                source: p.meta.source.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn group_of(model: &Model, e: EndpointId, grouping: Grouping) -> String {
    let cluster = &model.cluster;
    match (grouping, cluster.endpoint(e).workload) {
        (Grouping::Workload, Some(w)) => cluster.workload_key(w),
        _ => cluster.endpoint_name(e),
    }
}

/// Endpoints present in both versions, matched by name.
struct Common {
    /// (base id, head id), in base order.
    pairs: Vec<(EndpointId, EndpointId)>,
    /// Common index of each base endpoint.
    of_base: Vec<Option<usize>>,
    /// Base id of each head endpoint that is common.
    head_to_base: Vec<Option<usize>>,
    /// The two endpoint lists are the same names in the same order.
    aligned: bool,
}

fn common(base: &Model, head: &Model) -> Common {
    let mut pairs = Vec::new();
    let mut of_base = vec![None; base.cluster.endpoints.len()];
    let mut head_to_base = vec![None; head.cluster.endpoints.len()];
    for e in &base.cluster.endpoints {
        let name = base.cluster.endpoint_name(e.id);
        if let Some(h) = head.cluster.endpoint_by_key(&name) {
            of_base[e.id.index()] = Some(pairs.len());
            head_to_base[h.index()] = Some(e.id.index());
            pairs.push((e.id, h));
        }
    }
    let aligned = base.cluster.endpoints.len() == head.cluster.endpoints.len()
        && pairs.len() == base.cluster.endpoints.len()
        && pairs.iter().all(|(b, h)| b == h);
    Common {
        pairs,
        of_base,
        head_to_base,
        aligned,
    }
}

/// The common endpoints (base ids) as a set, to ignore endpoints of one version only.
fn common_mask(common: &Common, n_base: usize) -> EndpointSet {
    let mut mask = EndpointSet::empty(n_base);
    for (b, _) in &common.pairs {
        mask.insert(b.index());
    }
    mask
}

/// Calls `f(destination, now_allowed)` (base ids) for every common destination whose
/// verdict from source `bs` (head id `hs`) differs between the two single-column
/// matrices. `mapped` is scratch space of the base size.
fn row_changes(
    common: &Common,
    mb: &Matrix,
    mh: &Matrix,
    (bs, hs): (EndpointId, EndpointId),
    mask: &EndpointSet,
    mapped: &mut EndpointSet,
    mut f: impl FnMut(usize, bool),
) {
    let rb = mb.row(0, bs.index());
    let rh = mh.row(0, hs.index());
    // The head row in base ids (the same row when both versions hold the same
    // endpoints in the same order).
    let after = if common.aligned {
        rh
    } else {
        mapped.words_mut().fill(0);
        for d in rh.iter() {
            if let Some(b) = common.head_to_base[d] {
                mapped.insert(b);
            }
        }
        &*mapped
    };
    for (w, (x, y)) in rb.words().iter().zip(after.words()).enumerate() {
        let mut diff = (x ^ y) & mask.words()[w];
        while diff != 0 {
            let bit = diff.trailing_zeros() as usize;
            diff &= diff - 1;
            let d = w * 64 + bit;
            if d != bs.index() {
                f(d, y & (1 << bit) != 0);
            }
        }
    }
}

fn port_number(port: &MatrixPort, model: &Model, dst: EndpointId) -> Option<u16> {
    match &port.port {
        PortRef::Number(n) => Some(*n),
        PortRef::Name(name) => model.cluster.endpoint(dst).named_port(name, port.protocol),
    }
}

fn flow_of(model: &Model, port: &MatrixPort, s: EndpointId, d: EndpointId) -> Option<Reach> {
    let n = port_number(port, model, d)?;
    Some(reach(
        model,
        Flow {
            from: Party::Endpoint(s),
            to: Party::Endpoint(d),
            protocol: Some(port.protocol),
            port: Some(n),
            family: None,
        },
    ))
}

/// The rules that let the flow through, direction by direction.
fn allowed_by(model: &Model, r: &Reach) -> Vec<String> {
    let mut out = BTreeSet::new();
    for f in r.families.iter().filter(|f| f.allowed) {
        for d in [&f.egress, &f.ingress] {
            out.extend(direction_allows(model, &r.flow, d));
        }
    }
    out.into_iter().collect()
}

/// The tiered rule that decided the flow's ports in this direction, if a tier did.
fn tier_decider(model: &Model, flow: &Flow, d: &DirectionReach) -> Option<String> {
    let (stack, element) = d.decision.deciding_tier_element(&flow_port_set(flow))?;
    Some(format!(
        "{} tier {}",
        model.tiers.stack(stack).tier,
        tier_origin(model, stack, element)
    ))
}

fn direction_allows(model: &Model, flow: &Flow, d: &DirectionReach) -> Vec<String> {
    if let Some(rule) = tier_decider(model, flow, d) {
        return vec![format!(
            "{} of {}: {rule}",
            d.direction,
            d.subject.name(&model.cluster)
        )];
    }
    let who = d.subject.name(&model.cluster);
    match d.outcome {
        Isolation::Isolated(u) => d
            .checks
            .iter()
            .filter(|c| c.peer_matched && flow.admitted_by(&c.ports))
            .map(|c| allow_origin(model, u, c))
            .collect(),
        Isolation::Open => vec![format!("{} of {who} not isolated", d.direction)],
        Isolation::HostNetwork => vec![format!("{who} is a hostNetwork pod")],
        Isolation::NodeLocal => vec![format!("{} from {who}'s own node", d.direction)],
        Isolation::SelfTraffic | Isolation::NotAPod => Vec::new(),
    }
}

/// Why the flow is denied: each direction that stops it and the policies isolating it.
fn denied_by(model: &Model, r: &Reach) -> Vec<String> {
    let mut out = BTreeSet::new();
    if let Some(note) = &r.note {
        out.insert(note.clone());
    }
    for f in &r.families {
        for d in [&f.egress, &f.ingress] {
            if r.flow.admitted_by(&d.allowed_ports) {
                continue;
            }
            if let Some(rule) = tier_decider(model, &r.flow, d) {
                out.insert(format!(
                    "{} of {} denied by {rule}",
                    d.direction,
                    d.subject.name(&model.cluster)
                ));
                continue;
            }
            if let Isolation::Isolated(u) = d.outcome {
                let names: Vec<String> = model.policy_keys(u);
                out.insert(format!(
                    "{} of {} isolated by [{}]",
                    d.direction,
                    d.subject.name(&model.cluster),
                    names.join(", ")
                ));
            }
        }
    }
    out.into_iter().collect()
}

/// Policies isolating `s` for egress or `d` for ingress, and the tiered policies
/// selecting them in those directions.
fn isolating(model: &Model, s: EndpointId, d: EndpointId, out: &mut BTreeSet<String>) {
    isolating_side(model, s, Direction::Egress, out);
    isolating_side(model, d, Direction::Ingress, out);
}

/// The tier stacks selecting `s` for egress and `d` for ingress: with the unions, what
/// the causes of a change depend on.
fn stacks(model: &Model, s: EndpointId, d: EndpointId) -> [Option<TierStackId>; 4] {
    let of = |e, t, dir| model.tiers.stack_of(e, t, dir).map(|st| st.id);
    [
        of(s, Tier::Admin, Direction::Egress),
        of(s, Tier::Baseline, Direction::Egress),
        of(d, Tier::Admin, Direction::Ingress),
        of(d, Tier::Baseline, Direction::Ingress),
    ]
}

/// How many changes get `allowed_by` / `denied_by` (two reach evaluations each); the
/// rest keep their counts and causes. Diffs larger than this are not reviewed pair by
/// pair, and the explanations would dominate the run time.
pub const EXPLAINED_CHANGES: usize = 1000;

#[derive(Default)]
struct Cell {
    gained: usize,
    lost: usize,
    /// One changed pair (common indices) to explain; a gained one when there is one,
    /// since new access is what reviewers check.
    example: Option<(usize, usize, bool)>,
}

/// A changed cell: port index, (from, to) groups, the cell, allowed pairs before and
/// after, pairs compared.
type Found = (usize, (usize, usize), Cell, usize, usize, usize);

/// What the per-port work shares.
struct PortDiff<'a> {
    base: &'a Model,
    head: &'a Model,
    common: &'a Common,
    members: &'a [Vec<usize>],
    group_of_common: &'a [usize],
    all_ports: bool,
}

impl PortDiff<'_> {
    /// The changed cells of one port, source group by source group, counted per
    /// destination group in dense arrays (a large diff has millions of changed pairs).
    fn port(&self, pi: usize, port: &MatrixPort, found: &mut Vec<Found>) {
        let common = self.common;
        let column = std::slice::from_ref(port);
        let mb = Matrix::compute(self.base, column);
        let mh = Matrix::compute(self.head, column);
        let n_base = self.base.cluster.endpoints.len();
        let mask = common_mask(common, n_base);
        let mut mapped = EndpointSet::empty(n_base);
        let mut cells: Vec<Cell> = (0..self.members.len()).map(|_| Cell::default()).collect();
        let mut touched: Vec<usize> = Vec::new();
        // Common destinations that count on this port.
        let counted: Vec<bool> = common
            .pairs
            .iter()
            .map(|&(b, h)| {
                self.all_ports || listens(self.base, b, port) || listens(self.head, h, port)
            })
            .collect();
        for (from, from_members) in self.members.iter().enumerate() {
            for &cs in from_members {
                row_changes(
                    common,
                    &mb,
                    &mh,
                    common.pairs[cs],
                    &mask,
                    &mut mapped,
                    |d, now| {
                        let Some(cd) = common.of_base[d] else { return };
                        if !counted[cd] {
                            return;
                        }
                        let to = self.group_of_common[cd];
                        let cell = &mut cells[to];
                        if cell.gained + cell.lost == 0 {
                            touched.push(to);
                        }
                        if now {
                            cell.gained += 1;
                        } else {
                            cell.lost += 1;
                        }
                        if cell.example.is_none_or(|(_, _, was_now)| !was_now && now) {
                            cell.example = Some((cs, cd, now));
                        }
                    },
                );
            }
            for to in touched.drain(..) {
                let (mut before, mut after, mut pairs) = (0, 0, 0);
                for &a in from_members {
                    for &b in &self.members[to] {
                        if a == b || !counted[b] {
                            continue;
                        }
                        pairs += 1;
                        let ((xs, xh), (ys, yh)) = (common.pairs[a], common.pairs[b]);
                        before += usize::from(mb.allowed(0, xs.index(), ys.index()));
                        after += usize::from(mh.allowed(0, xh.index(), yh.index()));
                    }
                }
                let cell = std::mem::take(&mut cells[to]);
                found.push((pi, (from, to), cell, before, after, pairs));
            }
        }
    }
}

/// Does endpoint `e` listen on the column's port: it declares that port (a named one
/// resolves on it), or it declares no port at all (nothing says it does not listen).
pub fn listens(model: &Model, e: EndpointId, port: &MatrixPort) -> bool {
    let ep = model.cluster.endpoint(e);
    if ep.ports.is_empty() {
        return true;
    }
    match &port.port {
        PortRef::Number(n) => ep
            .ports
            .iter()
            .any(|p| p.port == *n && p.protocol == port.protocol),
        PortRef::Name(name) => ep.named_port(name, port.protocol).is_some(),
    }
}

/// Compares every pair of endpoints present in both versions on every port.
pub fn diff(base: &Model, head: &Model, ports: &[MatrixPort], grouping: Grouping) -> Diff {
    diff_with(base, head, ports, grouping, DiffOptions::PODS_ALL_PORTS)
}

/// Compares the versions as `options` say: pod pairs on the ports their destinations
/// listen on (or all), and the outside of the cluster.
pub fn diff_with(
    base: &Model,
    head: &Model,
    ports: &[MatrixPort],
    grouping: Grouping,
    options: DiffOptions,
) -> Diff {
    let common = common(base, head);
    let policy_changes = policy_changes(base, head);
    let changed_keys: HashMap<&str, PolicyChangeKind> = policy_changes
        .iter()
        .map(|c| (c.key.as_str(), c.kind))
        .collect();

    // Groups of common endpoints, named as in head (where the pair's ends now live).
    let mut group_ids: HashMap<String, usize> = HashMap::new();
    let mut group_names: Vec<String> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut group_of_common = Vec::with_capacity(common.pairs.len());
    for (ci, (_, h)) in common.pairs.iter().enumerate() {
        let name = group_of(head, *h, grouping);
        let g = *group_ids.entry(name.clone()).or_insert_with(|| {
            group_names.push(name);
            members.push(Vec::new());
            group_names.len() - 1
        });
        members[g].push(ci);
        group_of_common.push(g);
    }
    let groups_of = |m: &Model| -> BTreeSet<String> {
        m.cluster
            .endpoints
            .iter()
            .map(|e| group_of(m, e.id, grouping))
            .collect()
    };
    let base_kept: BTreeSet<String> = common
        .pairs
        .iter()
        .map(|(b, _)| group_of(base, *b, grouping))
        .collect();
    let added = groups_of(head)
        .into_iter()
        .filter(|g| !group_ids.contains_key(g))
        .collect();
    let removed = groups_of(base)
        .into_iter()
        .filter(|g| !group_ids.contains_key(g) && !base_kept.contains(g))
        .collect();

    // Ports are independent: each worker takes every k-th port, computes both versions'
    // matrices for it and folds the changed pairs into cells.
    let ctx = PortDiff {
        base,
        head,
        common: &common,
        members: &members,
        group_of_common: &group_of_common,
        all_ports: options.all_ports,
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, ports.len().max(1));
    let mut found: Vec<Found> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let ctx = &ctx;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for pi in (w..ports.len()).step_by(workers) {
                        ctx.port(pi, &ports[pi], &mut out);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("diff worker"))
            .collect()
    });
    // Sort by group name, then port, without comparing strings per comparison.
    let mut order: Vec<usize> = (0..group_names.len()).collect();
    order.sort_by(|a, b| group_names[*a].cmp(&group_names[*b]));
    let mut rank = vec![0; group_names.len()];
    for (r, g) in order.into_iter().enumerate() {
        rank[g] = r;
    }
    found.sort_by_cached_key(|x| {
        let p = &ports[x.0];
        (rank[x.1 .0], rank[x.1 .1], p.protocol, port_key(p))
    });

    type CauseKey = (
        [Option<UnionId>; 4],
        [Option<TierStackId>; 4],
        [Option<TierStackId>; 4],
    );
    let mut causes_of: HashMap<CauseKey, Arc<[String]>> = HashMap::new();
    let shared_names: Vec<Arc<str>> = group_names.iter().map(|g| Arc::from(g.as_str())).collect();
    let mut changes: Vec<FlowChange> = found
        .into_iter()
        .enumerate()
        .map(|(i, (pi, (from, to), cell, before, after, pairs))| {
            let port = &ports[pi];
            let (cs, cd, now) = cell.example.expect("a cell has a changed pair");
            let (bs, hs) = common.pairs[cs];
            let (bd, hd) = common.pairs[cd];
            // The same four unions give the same causes: computed once per combination.
            let unions = [
                base.egress[bs.index()],
                base.ingress[bd.index()],
                head.egress[hs.index()],
                head.ingress[hd.index()],
            ];
            let key = (unions, stacks(base, bs, bd), stacks(head, hs, hd));
            let causes = causes_of
                .entry(key)
                .or_insert_with(|| {
                    let mut involved = BTreeSet::new();
                    isolating(base, bs, bd, &mut involved);
                    isolating(head, hs, hd, &mut involved);
                    involved
                        .into_iter()
                        .filter(|k| changed_keys.contains_key(k.as_str()))
                        .collect::<Vec<_>>()
                        .into()
                })
                .clone();
            let (mut allowed, mut denied) = (Vec::new(), Vec::new());
            if i < EXPLAINED_CHANGES {
                let (allowing, denying) = if now {
                    ((head, hs, hd), (base, bs, bd))
                } else {
                    ((base, bs, bd), (head, hs, hd))
                };
                if let Some(r) = flow_of(allowing.0, port, allowing.1, allowing.2) {
                    allowed = allowed_by(allowing.0, &r);
                }
                if let Some(r) = flow_of(denying.0, port, denying.1, denying.2) {
                    denied = denied_by(denying.0, &r);
                }
            }
            FlowChange {
                from: shared_names[from].clone(),
                to: shared_names[to].clone(),
                port: port.clone(),
                pairs,
                before,
                after,
                gained: cell.gained,
                lost: cell.lost,
                causes,
                allowed_by: allowed,
                denied_by: denied,
            }
        })
        .collect();
    if options.outside {
        let ctx = OutsideDiff {
            base,
            head,
            common: &common,
            changed_keys: &changed_keys,
            ports,
            egress_ports: &outside_ports(base, head, ports),
        };
        let mut outside = ctx.changes(&members, &shared_names);
        outside.sort_by(|a, b| {
            (&a.from, &a.to, a.port.protocol, port_key(&a.port)).cmp(&(
                &b.from,
                &b.to,
                b.port.protocol,
                port_key(&b.port),
            ))
        });
        let explained = changes.len();
        for (i, c) in outside.iter_mut().enumerate() {
            if explained + i >= EXPLAINED_CHANGES {
                c.allowed_by.clear();
                c.denied_by.clear();
            }
        }
        changes.extend(outside);
    }
    Diff {
        ports: ports.to_vec(),
        policy_changes,
        changes,
        added,
        removed,
    }
}

/// Flows between the common endpoints and the outside classes of both versions.
struct OutsideDiff<'a> {
    base: &'a Model,
    head: &'a Model,
    common: &'a Common,
    changed_keys: &'a HashMap<&'a str, PolicyChangeKind>,
    /// Ports towards pods (each on the ports it listens on) and towards the outside.
    ports: &'a [MatrixPort],
    egress_ports: &'a [MatrixPort],
}

impl OutsideDiff<'_> {
    /// Per group, class and direction: the pods whose verdict changed on each port.
    /// An outside address listens on every port (nothing declares otherwise); a pod
    /// destination on the ports it listens on, as for pod pairs.
    fn changes(&self, members: &[Vec<usize>], names: &[Arc<str>]) -> Vec<FlowChange> {
        let classes = outside_classes(&[self.base, self.head]);
        let mut out = Vec::new();
        for class in &classes {
            let label: Arc<str> = Arc::from(class.to_string().as_str());
            let other = Party::External(class.party_net());
            for (g, group) in members.iter().enumerate() {
                for d in Direction::BOTH {
                    // Per pod: what each version lets through in direction d.
                    let sets: Vec<(usize, PortSet, PortSet)> = group
                        .iter()
                        .map(|&ci| {
                            let (b, h) = self.common.pairs[ci];
                            (
                                ci,
                                allowed_with(self.base, b, d, other, class.family()),
                                allowed_with(self.head, h, d, other, class.family()),
                            )
                        })
                        .collect();
                    let ports = match d {
                        Direction::Ingress => self.ports,
                        Direction::Egress => self.egress_ports,
                    };
                    for port in ports {
                        if let Some(c) = self.cell(class, &label, names[g].clone(), d, port, &sets)
                        {
                            out.push(c);
                        }
                    }
                }
            }
        }
        out
    }

    fn cell(
        &self,
        class: &OutsideClass,
        label: &Arc<str>,
        group: Arc<str>,
        d: Direction,
        port: &MatrixPort,
        sets: &[(usize, PortSet, PortSet)],
    ) -> Option<FlowChange> {
        let (mut pairs, mut before, mut after, mut gained, mut lost) = (0, 0, 0, 0, 0);
        let mut example: Option<(usize, u16, bool)> = None;
        for (ci, b_set, h_set) in sets {
            let (b, h) = self.common.pairs[*ci];
            // The pod's port: a number, or its container port of that name (named ports
            // never resolve on an address outside, so egress takes numbers only).
            let n = match (&port.port, d) {
                (PortRef::Number(n), _) => *n,
                (PortRef::Name(name), Direction::Ingress) => {
                    match self
                        .head
                        .cluster
                        .endpoint(h)
                        .named_port(name, port.protocol)
                    {
                        Some(n) => n,
                        None => continue,
                    }
                }
                (PortRef::Name(_), Direction::Egress) => return None,
            };
            if d == Direction::Ingress
                && !(listens(self.base, b, port) || listens(self.head, h, port))
            {
                continue;
            }
            pairs += 1;
            let was = b_set.contains(port.protocol, n);
            let now = h_set.contains(port.protocol, n);
            before += usize::from(was);
            after += usize::from(now);
            if was != now {
                if now {
                    gained += 1;
                } else {
                    lost += 1;
                }
                if example.is_none_or(|(_, _, was_now)| !was_now && now) {
                    example = Some((*ci, n, now));
                }
            }
        }
        let (ci, n, now) = example?;
        let (b, h) = self.common.pairs[ci];
        let flow = |e: EndpointId| {
            let (from, to) = match d {
                Direction::Egress => (Party::Endpoint(e), Party::External(class.party_net())),
                Direction::Ingress => (Party::External(class.party_net()), Party::Endpoint(e)),
            };
            Flow {
                from,
                to,
                protocol: Some(port.protocol),
                port: Some(n),
                family: Some(class.family()),
            }
        };
        let (rb, rh) = (reach(self.base, flow(b)), reach(self.head, flow(h)));
        let (allowing, denying) = if now {
            ((self.head, &rh), (self.base, &rb))
        } else {
            ((self.base, &rb), (self.head, &rh))
        };
        let mut involved = BTreeSet::new();
        for (m, e) in [(self.base, b), (self.head, h)] {
            isolating_side(m, e, d, &mut involved);
        }
        let causes: Vec<String> = involved
            .into_iter()
            .filter(|k| self.changed_keys.contains_key(k.as_str()))
            .collect();
        let (from, to) = match d {
            Direction::Egress => (group, label.clone()),
            Direction::Ingress => (label.clone(), group),
        };
        Some(FlowChange {
            from,
            to,
            port: port.clone(),
            pairs,
            before,
            after,
            gained,
            lost,
            causes: causes.into(),
            allowed_by: allowed_by(allowing.0, allowing.1),
            denied_by: denied_by(denying.0, denying.1),
        })
    }
}

/// The ports direction `d` of endpoint `e` lets through with `other` over `family`
/// (none when the endpoint does not speak the family).
fn allowed_with(
    model: &Model,
    e: EndpointId,
    d: Direction,
    other: Party,
    family: Family,
) -> PortSet {
    if !model.cluster.endpoint(e).speaks(family) {
        return PortSet::empty();
    }
    model.decide(Party::Endpoint(e), d, other, family).allowed
}

/// Policies isolating `e` in direction `d`, and the tiered ones selecting it there.
fn isolating_side(model: &Model, e: EndpointId, d: Direction, out: &mut BTreeSet<String>) {
    if let Some(u) = model.subject_isolation(e, d).union() {
        out.extend(model.policy_keys(u));
    }
    for tier in [Tier::Admin, Tier::Baseline] {
        if let Some(stack) = model.tiers.stack_of(e, tier, d) {
            out.extend(
                stack
                    .policies
                    .iter()
                    .map(|p| policy_key(&model.cluster, *p)),
            );
        }
    }
}

fn port_key(p: &MatrixPort) -> (u16, String) {
    match &p.port {
        PortRef::Number(n) => (*n, String::new()),
        PortRef::Name(s) => (0, s.clone()),
    }
}
