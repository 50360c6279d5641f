//! Lines of a NetworkPolicy's fields, as lint points at them: block and flow style,
//! anchors and aliases, merge keys, List items, comments before the document.

use netfence_model::field_lines::PolicyField::*;
use netfence_model::objects::Direction::{Egress, Ingress};
use netfence_model::{parse_manifest, Object};

fn policies(text: &str) -> Vec<netfence_model::objects::Policy> {
    let m = parse_manifest("p.yaml", text, "default");
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    m.objects
        .into_iter()
        .filter_map(|o| match o {
            Object::Policy(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn block_style_fields_have_their_own_lines() {
    let text = "\
# A header comment
# of two lines

apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector:
        matchLabels: {app: client}
    - ipBlock:
        cidr: 10.0.0.0/8
        except:
        - 10.1.0.0/16
        - 10.2.0.0/16
    ports:
    - port: 80
    - port: 443
  egress:
  - to:
    - podSelector: {}
";
    let [p] = policies(text).try_into().unwrap();
    // The object starts at its mapping, below the comments.
    assert_eq!(p.meta.source.line, 4);
    let at = |f| p.lines.line(f);
    assert_eq!(at(PodSelector), Some(8));
    assert_eq!(at(PolicyTypes), Some(10));
    assert_eq!(at(Rule(Ingress, 0)), Some(12));
    assert_eq!(at(Peer(Ingress, 0, 0)), Some(13));
    assert_eq!(at(PeerNamespaceSelector(Ingress, 0, 0)), Some(13));
    assert_eq!(at(PeerPodSelector(Ingress, 0, 0)), Some(14));
    assert_eq!(at(Peer(Ingress, 0, 1)), Some(16));
    assert_eq!(at(Cidr(Ingress, 0, 1)), Some(17));
    assert_eq!(at(Except(Ingress, 0, 1, 0)), Some(19));
    assert_eq!(at(Except(Ingress, 0, 1, 1)), Some(20));
    assert_eq!(at(Port(Ingress, 0, 0)), Some(22));
    assert_eq!(at(Port(Ingress, 0, 1)), Some(23));
    assert_eq!(at(Rule(Egress, 0)), Some(25));
    assert_eq!(at(PeerPodSelector(Egress, 0, 0)), Some(26));
    // A field that is not written falls back to the nearest one around it.
    assert_eq!(at(PeerNamespaceSelector(Egress, 0, 0)), Some(26));
    assert_eq!(at(Rule(Egress, 1)), None);
}

#[test]
fn flow_style_and_aliases_point_where_they_are_written() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector: &web {matchLabels: {app: web}}
  ingress:
  - {from: [{podSelector: *web}, {ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 80}]}
  - from:
    - podSelector: *web
";
    let [p] = policies(text).try_into().unwrap();
    let at = |f| p.lines.line(f);
    assert_eq!(at(PodSelector), Some(5));
    assert_eq!(at(PeerPodSelector(Ingress, 0, 0)), Some(7));
    assert_eq!(at(Cidr(Ingress, 0, 1)), Some(7));
    assert_eq!(at(Port(Ingress, 0, 0)), Some(7));
    assert_eq!(at(PeerPodSelector(Ingress, 1, 0)), Some(9));
}

#[test]
fn merged_fields_fall_back_to_their_peer() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  ingress:
  - from:
    - &clients
      namespaceSelector: {matchLabels: {team: a}}
    - <<: *clients
      podSelector: {}
";
    let [p] = policies(text).try_into().unwrap();
    let at = |f| p.lines.line(f);
    assert_eq!(at(PeerNamespaceSelector(Ingress, 0, 0)), Some(8));
    // The second peer's namespaceSelector comes from the merge: its peer's line.
    assert_eq!(at(Peer(Ingress, 0, 1)), Some(9));
    assert_eq!(at(PeerNamespaceSelector(Ingress, 0, 1)), Some(9));
    assert_eq!(at(PeerPodSelector(Ingress, 0, 1)), Some(10));
}

#[test]
fn list_items_have_lines_of_their_own() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a, labels: {app: web}}
  spec:
    containers:
    - name: c
      ports:
      - containerPort: 80
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: p}
  spec:
    podSelector: {}
    ingress:
    - ports:
      - port: 80
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: q}
  spec:
    policyTypes:
    - Egress
";
    let [p, q] = policies(text).try_into().unwrap();
    assert_eq!(p.meta.source.line, 12);
    assert_eq!(p.lines.line(PodSelector), Some(16));
    assert_eq!(p.lines.line(Port(Ingress, 0, 0)), Some(19));
    assert_eq!(q.meta.source.line, 20);
    assert_eq!(q.lines.line(PolicyTypes), Some(24));
    assert_eq!(q.lines.line(PodSelector), None);
}

#[test]
fn objects_of_the_api_server_have_no_lines() {
    let value = serde_yaml::from_str(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n",
    )
    .unwrap();
    let m = netfence_model::manifest::decode_object(
        value,
        netfence_model::Source::new("cluster", 0),
        "default",
    );
    let Some(Object::Policy(p)) = m.objects.first() else {
        panic!("{m:?}")
    };
    assert_eq!(p.lines.line(PodSelector), None);
}
