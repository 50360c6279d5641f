//! The catalogue: every check with its stable id, severity, title and the explanation
//! `lint --explain ID` prints. Ids never change meaning; new checks get new ids.

use std::fmt;
use std::str::FromStr;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            _ => Err(format!(
                "unknown severity {s:?}: use error, warning or info"
            )),
        }
    }
}

/// One check of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    /// Stable id, `NF` and three digits; the first digit is the family.
    pub id: &'static str,
    pub severity: Severity,
    /// Off-by-default checks run only when enabled (`--coverage`, config `enable`).
    pub default_enabled: bool,
    /// A short kebab-case name (SARIF `rule.name`).
    pub name: &'static str,
    /// One line: what the check finds.
    pub title: &'static str,
    /// Why it matters and how to fix it.
    pub explanation: &'static str,
}

/// Looks a check up by id (case-insensitive).
pub fn check(id: &str) -> Option<&'static Check> {
    CATALOGUE.iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

pub const CATALOGUE: &[Check] = &[
    Check {
        id: "NF001",
        severity: Severity::Error,
        default_enabled: true,
        name: "invalid-object",
        title: "an object the API server would reject",
        explanation: "\
The manifest could not be turned into a valid object: malformed YAML, a missing
required field, an unknown protocol or operator, a port out of range, an invalid CIDR.
The API server rejects such an object, so `kubectl apply` fails and none of the
policy takes effect. The other checks still run on the valid objects.

Fix: correct the field named in the message (the line points at it).",
    },
    Check {
        id: "NF101",
        severity: Severity::Warning,
        default_enabled: true,
        name: "policy-selects-no-pod",
        title: "the policy selects no pod",
        explanation: "\
No pod or workload of the policy's namespace matches its podSelector, so the policy
isolates nothing and allows nothing. Usually a label typo, a selector written for
another namespace (podSelector only looks at the policy's own namespace), or a
workload that was renamed. A podSelector that matches only hostNetwork pods has the same
effect: NetworkPolicy never isolates a pod on the host network (it is its node).

Fix: make spec.podSelector match the labels of the pod template, or move the policy
into the namespace of the pods it is meant for. Checks that need pods are skipped when
the input holds no pod or workload at all.",
    },
    Check {
        id: "NF102",
        severity: Severity::Warning,
        default_enabled: true,
        name: "peer-matches-no-namespace",
        title: "a peer's namespaceSelector matches no namespace",
        explanation: "\
The namespaceSelector of a from/to peer matches none of the namespaces declared in
the input, so the peer admits nothing. Typical causes: a label the namespaces do not
carry (only `kubernetes.io/metadata.name` is set automatically), or a misspelt
namespace name.

Fix: select namespaces by `kubernetes.io/metadata.name: <name>`, or add the label to
the Namespace manifest. Namespaces that are only named by the input (no Namespace
object) are not judged: they may exist in the cluster.",
    },
    Check {
        id: "NF103",
        severity: Severity::Warning,
        default_enabled: true,
        name: "peer-matches-no-pod",
        title: "a peer's selectors match no pod",
        explanation: "\
The peer's podSelector (within the namespaces it applies to) matches no pod or
workload of the input, so the rule admits nothing from (or to) this peer. A podSelector
without namespaceSelector only looks at the policy's own namespace.

Fix: correct the labels, or add a namespaceSelector when the pods live in another
namespace.",
    },
    Check {
        id: "NF201",
        severity: Severity::Error,
        default_enabled: true,
        name: "egress-rules-ignored",
        title: "egress rules present but policyTypes lists only Ingress",
        explanation: "\
An explicit policyTypes wins over the rules: with `policyTypes: [Ingress]` the egress
section is ignored entirely, so what it seems to allow is not allowed and the pods'
egress is not isolated by this policy.

Fix: add Egress to spec.policyTypes, or delete the egress section.",
    },
    Check {
        id: "NF202",
        severity: Severity::Error,
        default_enabled: true,
        name: "ingress-rules-ignored",
        title: "ingress rules present but policyTypes lists only Egress",
        explanation: "\
With `policyTypes: [Egress]` the ingress section is ignored entirely: the pods are not
isolated for ingress by this policy and its ingress rules allow nothing.

Fix: add Ingress to spec.policyTypes, or delete the ingress section.",
    },
    Check {
        id: "NF203",
        severity: Severity::Warning,
        default_enabled: true,
        name: "two-peers-maybe-one",
        title: "namespaceSelector and podSelector as two peers where one peer was probably meant",
        explanation: "\
The classic indentation trap. Two list items

    - namespaceSelector: {...}
    - podSelector: {...}

are two peers, OR-ed: every pod of the selected namespaces, plus the selected pods of
the policy's own namespace. One item

    - namespaceSelector: {...}
      podSelector: {...}

is one peer, AND-ed: only the selected pods inside the selected namespaces. The two
differ by one '-' and usually by many pods; the message spells out both readings
(the pods each admits, when the input has pods). It is reported on the shape: also
when the input's pods happen to make both readings admit the same pods, since the next
pod deployed may not.

Fix: if only the selected pods of those namespaces should be admitted, remove the '-'
before podSelector so both selectors are in one peer. If the OR is intended, suppress
the finding (annotation `netfence.io/lint-ignore: NF203`).",
    },
    Check {
        id: "NF204",
        severity: Severity::Warning,
        default_enabled: true,
        name: "one-peer-maybe-two",
        title: "namespaceSelector and podSelector AND-ed in one peer that matches nothing, where two peers would",
        explanation: "\
A peer with both namespaceSelector and podSelector admits only pods matching the
podSelector inside the selected namespaces. Here that intersection is empty although
each selector alone matches pods: the selected pods live elsewhere (often in the
policy's own namespace). Two peers (OR) were probably meant.

Fix: put a '-' before podSelector to make it a peer of its own, or correct the labels.",
    },
    Check {
        id: "NF205",
        severity: Severity::Error,
        default_enabled: true,
        name: "deny-policy-allows-all",
        title: "the policy's name or annotations say deny, but it allows everything (or isolates nothing)",
        explanation: "\
A policy called like default-deny-egress that contains `egress: [{}]` (a rule with no
peers and no ports) allows all egress: the opposite of its name. The same holds for a
deny policy whose policyTypes does not include the direction it names: with no
policyTypes and no egress rules, a policy only affects ingress, so a
`default-deny-egress` without `policyTypes: [Egress]` denies no egress at all.

Fix: remove the allow-all rule (`egress: []` or no egress section, with Egress in
policyTypes), or rename the policy if allowing everything is intended.",
    },
    Check {
        id: "NF206",
        severity: Severity::Error,
        default_enabled: true,
        name: "allow-all-policy-restricts",
        title: "the policy's name or annotations say allow-all, but it does not allow everything",
        explanation: "\
A policy called like allow-all-ingress must contain a rule `{}` (no from, no ports) for
that direction. Without it, the policy isolates the selected pods and allows only what
its rules list, or nothing when there are none (`ingress: []`): it denies instead.

Fix: make the rule `- {}`, or rename the policy after what it does.",
    },
    Check {
        id: "NF207",
        severity: Severity::Warning,
        default_enabled: true,
        name: "egress-without-dns",
        title: "egress isolation without DNS to kube-dns (UDP and TCP 53)",
        explanation: "\
Pods isolated for egress can send only what their policies allow. If nothing allows
UDP and TCP port 53 to the cluster DNS (pods labelled k8s-app=kube-dns in kube-system),
name resolution fails and every connection by name breaks, silently. DNS falls back to
TCP for large answers, so UDP alone is not enough.

Fix: add an egress rule to these pods, e.g. in a namespace-wide policy:

    egress:
    - to:
      - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
        podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]

An ipBlock with the DNS Service's ClusterIP does not work: policies see the pod
address after the Service address is translated.",
    },
    Check {
        id: "NF301",
        severity: Severity::Warning,
        default_enabled: true,
        name: "named-port-undefined",
        title: "a named port that no selected destination pod defines",
        explanation: "\
A named port in a rule resolves on the destination pod: on the selected pods for
ingress, on the peer's pods for egress, with the rule's protocol. If no destination
has a container port of that name and protocol, the port entry matches nothing.

Fix: use the name the pod template gives its container port (and the same protocol),
or a port number.",
    },
    Check {
        id: "NF302",
        severity: Severity::Info,
        default_enabled: true,
        name: "numeric-port-undeclared",
        title: "a numeric port that no selected destination pod declares",
        explanation: "\
The rule allows a port number that none of its destination pods lists among its
containerPorts. containerPorts are informational, so the pod may still listen there;
often, though, this is the Service port written where the container's port was meant,
or a port the application no longer uses.

Fix: check the port the container listens on; declare it in the pod template, or
correct the rule.",
    },
    Check {
        id: "NF303",
        severity: Severity::Warning,
        default_enabled: true,
        name: "named-port-inconsistent",
        title: "a named port that resolves to different numbers or protocols across the selected pods",
        explanation: "\
A named port resolves on each destination pod separately. When pods name different
numbers (http=8080 on some, http=9090 on others) or use the name with another protocol,
one rule opens different ports on different pods, or none on some. That is rarely
what the author checked.

Fix: give the container ports consistent names, or split the rule per workload.",
    },
    Check {
        id: "NF304",
        severity: Severity::Warning,
        default_enabled: true,
        name: "service-port-denied",
        title: "a Service whose targetPort the ingress policies of its backends do not allow",
        explanation: "\
The backends of the Service are isolated for ingress and no rule of their policies
allows the Service's targetPort from any source, so the Service is unreachable through
this port. Policies see the target port after the Service address is translated,
never the Service port.

Fix: add an ingress rule allowing the targetPort (by number or by the container port
name) from the intended clients.",
    },
    Check {
        id: "NF305",
        severity: Severity::Warning,
        default_enabled: true,
        name: "rule-uses-service-port",
        title: "a rule allows a Service port where the backends listen on a different targetPort",
        explanation: "\
NetworkPolicy is evaluated after the Service address and port are translated to the
backend pod's address and targetPort. A rule allowing the Service port (80) towards
backends that listen on the targetPort (8080) does not allow the traffic.

Fix: allow the targetPort, or the container port's name.",
    },
    Check {
        id: "NF401",
        severity: Severity::Warning,
        default_enabled: true,
        name: "ipblock-covers-pods",
        title: "an ipBlock that covers pod addresses (it matches pods too)",
        explanation: "\
ipBlock is matched against every address, pod addresses included. A broad block such as
0.0.0.0/0 or 10.0.0.0/8 meant for \"outside the cluster\" also admits every pod whose
address falls in it, regardless of namespace and pod selectors.

Fix: add the pod network(s) as `except` entries, or use namespace/pod selectors for
in-cluster peers. Pod networks come from the pods' addresses in the input and from
`networks.pods` in the lint config.",
    },
    Check {
        id: "NF402",
        severity: Severity::Warning,
        default_enabled: true,
        name: "ipblock-covers-services",
        title: "an ipBlock that covers Service (ClusterIP) addresses",
        explanation: "\
Policies are evaluated after kube-proxy has translated a Service address to a backend
pod's address, so an ipBlock of ClusterIPs never matches Service traffic: a rule
meant to allow \"the DNS Service at 10.96.0.10\" allows nothing.

Fix: select the backend pods with namespace and pod selectors instead. Service
networks come from the Services' clusterIPs in the input and from `networks.services`
in the lint config.",
    },
    Check {
        id: "NF403",
        severity: Severity::Error,
        default_enabled: true,
        name: "except-outside-cidr",
        title: "an ipBlock except entry outside its cidr",
        explanation: "\
Every except entry must be a strict subset of the ipBlock's cidr, of the same address
family. The API server rejects the policy otherwise, so nothing of it applies.

Fix: correct the except entry, or move it into the ipBlock it belongs to.",
    },
    Check {
        id: "NF404",
        severity: Severity::Warning,
        default_enabled: true,
        name: "except-overlap",
        title: "overlapping except entries in one ipBlock",
        explanation: "\
Two except entries of the same ipBlock overlap (one contains the other). The smaller
one has no effect; usually one of them was meant to be something else.

Fix: remove the redundant entry or correct it.",
    },
    Check {
        id: "NF405",
        severity: Severity::Warning,
        default_enabled: true,
        name: "except-allowed-again",
        title: "an except range that another rule or policy allows again",
        explanation: "\
`except` only narrows its own ipBlock; it is not a deny. Policies are additive, so
another peer, rule or policy selecting the same pods that admits those addresses
(a wider ipBlock, a rule without from/to, or selectors matching pods in the range)
allows them again on its ports.

Fix: narrow the other rule (add the same except there), or, if the other rule is
right, drop the except.",
    },
    Check {
        id: "NF501",
        severity: Severity::Warning,
        default_enabled: true,
        name: "spoofable-namespace-label",
        title: "an ingress namespaceSelector on labels other than kubernetes.io/metadata.name",
        explanation: "\
Namespace labels are set by whoever may edit the namespace. A rule admitting
`namespaceSelector: {matchLabels: {team: payments}}` admits any namespace someone labels
team=payments. Only `kubernetes.io/metadata.name`, set by the API server to the
namespace's name, cannot be claimed by another namespace.

Fix: select trusted namespaces by `kubernetes.io/metadata.name`, or restrict who may
label namespaces (admission policy) and suppress the finding.",
    },
    Check {
        id: "NF502",
        severity: Severity::Warning,
        default_enabled: true,
        name: "any-namespace-pod-selector",
        title: "namespaceSelector: {} with a podSelector (any tenant can create such a pod)",
        explanation: "\
`namespaceSelector: {}` with `podSelector: {matchLabels: {app: prometheus}}` admits every
pod labelled app=prometheus in every namespace. Anyone who can create a pod anywhere
can give it that label and get in.

Fix: name the namespace: `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name:
monitoring}}`.",
    },
    Check {
        id: "NF601",
        severity: Severity::Warning,
        default_enabled: true,
        name: "rule-shadowed",
        title: "a rule made redundant by another rule or policy",
        explanation: "\
Policies are additive: a rule whose peers and ports are contained in another rule
that applies to (at least) the same pods adds nothing. It is dead weight that
reviewers read as meaningful, and when the wider rule is later narrowed the intent of
the narrower one is easy to misjudge.

Fix: delete the redundant rule, or narrow the wider one if it is the mistake.",
    },
    Check {
        id: "NF602",
        severity: Severity::Warning,
        default_enabled: true,
        name: "duplicate-policy",
        title: "two policies with the same selection and the same rules",
        explanation: "\
Two policies of one namespace select the same pods with the same policy types and the
same rules. One of them is redundant; changing only one later will not change what is
allowed.

Fix: delete one of them.",
    },
    Check {
        id: "NF701",
        severity: Severity::Info,
        default_enabled: false,
        name: "namespace-without-policy",
        title: "a namespace with pods but no NetworkPolicy (coverage)",
        explanation: "\
No NetworkPolicy exists in the namespace, so every pod in it accepts traffic from
anywhere and may send anywhere. Off by default; enable it with `--coverage` or
`enable: [NF701]` in the lint config.

Fix: add a default-deny policy (podSelector: {}, policyTypes: [Ingress, Egress]) and
allow what the workloads need.",
    },
    Check {
        id: "NF702",
        severity: Severity::Info,
        default_enabled: false,
        name: "workload-ingress-open",
        title: "a workload not isolated for ingress (coverage)",
        explanation: "\
No policy selects the workload's pods for ingress in a namespace that has policies,
so anything may connect to them. Off by default; enable it with `--coverage`.

Fix: select the workload with a policy that has Ingress in its policyTypes.",
    },
    Check {
        id: "NF703",
        severity: Severity::Info,
        default_enabled: false,
        name: "workload-egress-open",
        title: "a workload not isolated for egress (coverage)",
        explanation: "\
No policy selects the workload's pods for egress in a namespace that has policies, so
they may connect anywhere. Off by default; enable it with `--coverage`.

Fix: select the workload with a policy that has Egress in its policyTypes (and allow
DNS).",
    },
    Check {
        id: "NF801",
        severity: Severity::Warning,
        default_enabled: true,
        name: "tier-equal-priority-overlap",
        title: "two tiered policies of one tier with the same priority whose rules match one connection",
        explanation: "\
Two ClusterNetworkPolicies (or AdminNetworkPolicies) of the same tier have the same
priority, and a rule of each matches the same connection: same direction, a subject pod
both select, a peer both match and a port both match (found over the input's pods and
addresses). The network-policy-api leaves the order of equal priorities undefined, so
which rule decides depends on the implementation. netfence evaluates them by name in
byte order, then by kind (ClusterNetworkPolicy, AdminNetworkPolicy,
BaselineAdminNetworkPolicy); the message says which policy goes first here and whether
the two actions differ (then the verdict itself depends on the order).

Fix: give the policies different priorities, the one that should win the lower number.",
    },
    Check {
        id: "NF802",
        severity: Severity::Warning,
        default_enabled: true,
        name: "tier-rule-shadowed",
        title: "a tiered rule that earlier rules of its tier always decide first",
        explanation: "\
Inside a tier, the first matching rule decides: rules in order inside a policy, policies
by priority. For every subject pod of this rule, every peer and port it matches is
already decided (Accept, Deny or Pass) by an earlier rule of the same policy or of a
policy with higher precedence in the same tier, so this rule never decides anything.
The message names the earlier rules. It is exact over the pods, nodes and addresses of
the input: a pod added later may still reach the rule.

Fix: delete the rule, or move it (or its policy, by priority) before the rules that
take its traffic if it was meant to win.",
    },
    Check {
        id: "NF803",
        severity: Severity::Warning,
        default_enabled: true,
        name: "baseline-deny-overridden",
        title: "a Baseline Deny that NetworkPolicy always decides before",
        explanation: "\
The Baseline tier is consulted only for pods that no NetworkPolicy isolates in that
direction: for an isolated pod, NetworkPolicy decides everything that reaches it
(what it does not allow is denied). Every subject pod of this Baseline Deny is isolated
by NetworkPolicy in the rule's direction, so the Deny never applies to any of them; it
does not narrow what their NetworkPolicies allow. Exact over the pods of the input.

Fix: if the Deny must hold whatever the namespaces allow, put it in the Admin tier
(before NetworkPolicy); otherwise drop it, or narrow its subject to the pods
NetworkPolicy leaves open.",
    },
    Check {
        id: "NF804",
        severity: Severity::Info,
        default_enabled: true,
        name: "tier-pass-no-effect",
        title: "a Pass that decides nothing differently from no match",
        explanation: "\
An Admin Pass skips the rest of the Admin tier and hands the traffic to NetworkPolicy,
which is what happens to traffic no Admin rule matches. When no later Admin rule would
Accept or Deny any of the traffic the Pass takes (for its subject pods in the input),
the Pass changes nothing. Likewise a Baseline Pass ends in the default allow, like no
match (and like a Baseline Accept), so it changes something only when a later Baseline
Deny would have matched the traffic.

Fix: delete the Pass, or check the later rule it was meant to skip (its priority, its
subject, its peers).",
    },
    Check {
        id: "NF805",
        severity: Severity::Info,
        default_enabled: true,
        name: "admin-accept-over-networkpolicy",
        title: "an Admin Accept deciding traffic that NetworkPolicy alone would deny",
        explanation: "\
An Admin tier Accept is final: NetworkPolicy is not consulted for what it accepts. For
at least one subject pod, peer and port of the input, the Accept decides a connection
that the pod's NetworkPolicies would deny, so a namespace owner who tightens
NetworkPolicy cannot close it. The message names one such connection and the
NetworkPolicies. This may be intended (a cluster-wide exception such as monitoring);
it is reported as information.

Fix: if NetworkPolicy should have the last word, use Pass in the Admin tier, or move the
Accept to the Baseline tier.",
    },
    Check {
        id: "NF806",
        severity: Severity::Warning,
        default_enabled: true,
        name: "tier-subject-selects-no-pod",
        title: "a tiered policy whose subject selects no pod",
        explanation: "\
The subject (namespaces, or pods within namespaces) matches no pod of the input, so the
policy applies to nothing. hostNetwork pods are never subjects of tiered policies.
Not judged when the namespaces it selects have no pod in the input, or when it names
namespaces only by `kubernetes.io/metadata.name` and the input declares none of them.

Fix: correct the subject's selectors (namespaces carry only `kubernetes.io/metadata.name`
unless labelled).",
    },
    Check {
        id: "NF807",
        severity: Severity::Warning,
        default_enabled: true,
        name: "tier-peer-selects-nothing",
        title: "a tiered rule's peer selects no pod, namespace or node",
        explanation: "\
A `namespaces` or `pods` peer matches no pod (off the host network) of the input, or a
`nodes` peer matches no Node of the input (or only Nodes without addresses), so the
peer matches nothing. `nodes` peers are judged only when the input holds Nodes; pod
peers are skipped in the same cases as NF806.

Fix: correct the selectors, or label the namespaces or nodes they are meant for.",
    },
    Check {
        id: "NF808",
        severity: Severity::Info,
        default_enabled: true,
        name: "tier-networks-cover-pods",
        title: "a `networks` CIDR covering pod addresses",
        explanation: "\
A `networks` peer is matched against every address, pod addresses included (the API
documents it), so a CIDR covering the pod network also matches pod-to-pod traffic, not
only traffic leaving the cluster. The pods are those of the input with an address in
the CIDR, or the lint config's `networks.pods`.

Fix: if only outside traffic was meant, use a CIDR that leaves the pod network out, and
select pods with `namespaces` or `pods` peers.",
    },
    Check {
        id: "NF809",
        severity: Severity::Warning,
        default_enabled: true,
        name: "tier-named-port-undefined",
        title: "a tiered rule's named port that no destination pod defines",
        explanation: "\
A named port resolves on the destination pod to the container port of that name (its
number and protocol together). No destination pod of the rule (the subject pods for
ingress, the pods its peers select for egress) defines a container port of that name,
so this port matches nothing; it never matches outside addresses or hostNetwork pods.

Fix: use the container port's name, or a number.",
    },
    Check {
        id: "NF810",
        severity: Severity::Info,
        default_enabled: true,
        name: "tier-domain-names-unenforced",
        title: "a `domainNames` peer, which netfence does not enforce",
        explanation: "\
`domainNames` peers (experimental upstream, egress Accept only) are read and validated
but not enforced by netfence: such a peer matches nothing, which fails closed for the
Accept rules it may appear in, so the traffic they name is decided by the later rules
and tiers instead.

Fix: allow the destinations by `networks` (their addresses) until FQDN peers are
supported, or expect them to be denied if a later rule denies.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
        for id in &ids {
            assert!(id.len() == 5 && id.starts_with("NF"), "{id}");
            assert!(id[2..].bytes().all(|b| b.is_ascii_digit()), "{id}");
        }
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        let mut names: Vec<&str> = CATALOGUE.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(check("nf101").unwrap().id, "NF101");
        assert!(check("NF999").is_none());
        assert_eq!("Warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!(Severity::Info < Severity::Error);
    }
}
