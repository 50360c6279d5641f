//! ClusterNetworkPolicies (`policy.networking.k8s.io/v1alpha2`) of both tiers, and the
//! Node objects their `nodes` peers select.
//!
//! Drawn after everything else, and only when the config asks for tiered policies, so a
//! NetworkPolicy-only config gives the same manifests as before this module existed.
//! Priorities are drawn from fewer values than there are policies, so some are equal
//! (upstream leaves their order undefined; netfence orders them by name).

use super::{node_subnet_v4, node_v4, node_v6, pod_v4, q, selector_flow, Gen, Phase};
use std::fmt::Write as _;

/// The zone a node is in (a label `nodes` peers select on).
fn zone(node: usize) -> usize {
    node % 3
}

impl Gen<'_> {
    /// The Node objects: hostname, os and zone labels, the InternalIP addresses.
    pub(super) fn nodes_yaml(&self, out: &mut String) {
        for n in 0..self.nodes {
            let _ = write!(
                out,
                "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-{n}\n  labels: {{\"kubernetes.io/hostname\": \"node-{n}\", \"kubernetes.io/os\": \"linux\", \"topology.kubernetes.io/zone\": \"zone-{}\"{}}}\nstatus:\n  addresses:\n  - {{type: InternalIP, address: {}}}\n",
                zone(n),
                if n == 0 {
                    ", \"node-role.kubernetes.io/control-plane\": \"\""
                } else {
                    ""
                },
                node_v4(n)
            );
            if self.cfg.dual_stack {
                let _ = writeln!(out, "  - {{type: InternalIP, address: {}}}", node_v6(n));
            }
            let _ = writeln!(out, "  - {{type: Hostname, address: node-{n}}}");
        }
    }

    /// One ClusterNetworkPolicy of `tier` ("Admin" or "Baseline"); `priorities` is how
    /// many distinct priorities the tier's policies draw from.
    pub(super) fn cluster_policy(
        &mut self,
        tier: &str,
        i: usize,
        priorities: usize,
        out: &mut String,
    ) {
        let priority = self.r.below(priorities.max(1)) * 1000 / priorities.max(1);
        let _ = write!(
            out,
            "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata:\n  name: {}-{i}\nspec:\n  tier: {tier}\n  priority: {priority}\n  subject:\n",
            tier.to_ascii_lowercase()
        );
        if self.r.chance(450) {
            let ns = self.ns_selector();
            let _ = writeln!(out, "    namespaces: {}", selector_flow(&ns));
        } else {
            let ns = self.ns_selector();
            let pod = self.pod_selector(100);
            let _ = writeln!(
                out,
                "    pods: {{namespaceSelector: {}, podSelector: {}}}",
                selector_flow(&ns),
                selector_flow(&pod)
            );
        }
        for (list, peers) in [("ingress", "from"), ("egress", "to")] {
            let n = self.r.weighted(&[15, 35, 30, 20]);
            if n == 0 {
                continue;
            }
            let _ = writeln!(out, "  {list}:");
            for j in 0..n {
                self.tier_rule(out, j, peers, list == "egress");
            }
        }
    }

    fn tier_rule(&mut self, out: &mut String, j: usize, peers: &str, egress: bool) {
        let action = ["Accept", "Deny", "Pass"][self.r.weighted(&[40, 35, 25])];
        out.push_str("  - ");
        if self.r.chance(700) {
            let _ = write!(out, "name: rule-{j}\n    ");
        }
        let _ = writeln!(out, "action: {action}\n    {peers}:");
        // The API's CEL rule: no named port in a rule with a networks, nodes or
        // domainNames peer (those have no container ports).
        let mut named_ok = true;
        for _ in 0..self.r.between(1, 3) {
            let peer = self.tier_peer(egress, action == "Accept");
            named_ok &= peer.starts_with("{namespaces") || peer.starts_with("{pods");
            let _ = writeln!(out, "    - {peer}");
        }
        if self.r.chance(350) {
            return;
        }
        out.push_str("    protocols:\n");
        for _ in 0..self.r.between(1, 3) {
            let p = self.tier_protocol(named_ok);
            let _ = writeln!(out, "    - {p}");
        }
    }

    /// A peer in flow style: namespaces and pods both ways; networks and nodes (and, in
    /// Accept rules, domain names) only for egress, as the API allows.
    fn tier_peer(&mut self, egress: bool, accept: bool) -> String {
        let weights: &[u32] = if egress {
            &[30, 30, 25, 12, if accept { 3 } else { 0 }]
        } else {
            &[50, 50]
        };
        match self.r.weighted(weights) {
            0 => {
                let ns = self.ns_selector();
                format!("{{namespaces: {}}}", selector_flow(&ns))
            }
            1 => {
                let ns = self.ns_selector();
                let pod = self.pod_selector(100);
                format!(
                    "{{pods: {{namespaceSelector: {}, podSelector: {}}}}}",
                    selector_flow(&ns),
                    selector_flow(&pod)
                )
            }
            2 => {
                // A set (the API refuses duplicates).
                let nets: std::collections::BTreeSet<String> = (0..self.r.between(1, 2))
                    .map(|_| q(&self.network()))
                    .collect();
                let nets: Vec<String> = nets.into_iter().collect();
                format!("{{networks: [{}]}}", nets.join(", "))
            }
            3 => {
                let sel = match self.r.below(4) {
                    0 => "{matchLabels: {\"kubernetes.io/os\": \"linux\"}}".to_string(),
                    1 => format!(
                        "{{matchLabels: {{\"topology.kubernetes.io/zone\": \"zone-{}\"}}}}",
                        self.r.below(3)
                    ),
                    2 => format!(
                        "{{matchLabels: {{\"kubernetes.io/hostname\": \"node-{}\"}}}}",
                        self.r.below(self.nodes)
                    ),
                    _ => "{matchExpressions: [{key: \"node-role.kubernetes.io/control-plane\", operator: Exists}]}"
                        .to_string(),
                };
                format!("{{nodes: {sel}}}")
            }
            _ => "{domainNames: [\"example.com\", \"*.example.org\"]}".to_string(),
        }
    }

    /// A `networks` CIDR: the pod range or a node's part of it, a pod, a node, the
    /// world, or somewhere no pod is.
    fn network(&mut self) -> String {
        let node = self.r.below(self.nodes);
        if self.cfg.dual_stack && self.r.chance(300) {
            return (*self
                .r
                .pick(&["::/0", "fd00:10::/32", "fd00:1::/64", "2001:db8::/32"]))
            .to_string();
        }
        match self.r.below(8) {
            0 => "0.0.0.0/0".into(),
            1 => "10.128.0.0/10".into(),
            2 => node_subnet_v4(node),
            3 => format!("{}/32", node_v4(node)),
            4 => "172.16.0.0/12".into(),
            5 => "192.0.2.0/24".into(),
            _ => {
                let running: Vec<usize> = (0..self.pods.len().min(256))
                    .filter(|&i| {
                        matches!(self.pods[i].phase, Phase::Running) && !self.pods[i].host_network
                    })
                    .collect();
                if running.is_empty() {
                    "10.0.0.0/8".into()
                } else {
                    let p = &self.pods[*self.r.pick(&running)];
                    format!("{}/32", pod_v4(p.node, p.slot))
                }
            }
        }
    }

    /// A `protocols` entry: a port, a range, or (when `named`) a container port name.
    fn tier_protocol(&mut self, named: bool) -> String {
        let proto = *self.r.pick(&["tcp", "tcp", "tcp", "udp", "sctp"]);
        match self.r.weighted(&[50, 25, if named { 25 } else { 0 }]) {
            0 => format!(
                "{{{proto}: {{destinationPort: {{number: {}}}}}}}",
                self.r.pick(&[80, 443, 53, 8080, 5432, 9090, 3868])
            ),
            1 => {
                let (a, b) =
                    *self
                        .r
                        .pick(&[(1, 1024), (8000, 9100), (50, 60), (3000, 4000), (79, 81)]);
                format!("{{{proto}: {{destinationPort: {{range: {{start: {a}, end: {b}}}}}}}}}")
            }
            _ => format!(
                "{{destinationNamedPort: {}}}",
                self.r
                    .pick(&["http", "https", "metrics", "dns", "db", "grpc", "admin"])
            ),
        }
    }
}
