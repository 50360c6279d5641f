//! The ruleset as nftables JSON (`nft -j -f`), built with the `nftables` crate's schema
//! types. The crate (0.6) has no `verdict` set type, so verdict maps, their elements and
//! `vmap` dispatch are written as raw JSON next to the typed objects.

use crate::ruleset::*;
use netfence_model::{Family, Protocol};
use nftables::expr::{
    Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, SetItem, CT,
};
use nftables::schema::{Chain, NfListObject, Rule, Set, SetFlag, SetType, SetTypeValue, Table};
use nftables::stmt::{AnonymousCounter, Counter, Log, Match as NfMatch, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

fn typed(obj: NfListObject<'_>) -> Value {
    serde_json::to_value(obj).expect("nftables schema objects serialise")
}

fn add(v: Value) -> Value {
    json!({ "add": v })
}

fn payload(proto: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(proto),
            field: Cow::Borrowed(field),
        },
    )))
}

fn addr_payload(f: Family, side: Addr) -> Expression<'static> {
    let proto = match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    };
    let field = match side {
        Addr::Source => "saddr",
        Addr::Destination => "daddr",
    };
    payload(proto, field)
}

fn l4proto() -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta {
        key: MetaKey::L4proto,
    }))
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn ip(a: &IpAddr) -> Expression<'static> {
    Expression::String(Cow::Owned(a.to_string()))
}

fn port_range(s: u16, e: u16) -> Expression<'static> {
    if s == e {
        Expression::Number(u32::from(s))
    } else {
        Expression::Range(Box::new(nftables::expr::Range {
            range: [
                Expression::Number(u32::from(s)),
                Expression::Number(u32::from(e)),
            ],
        }))
    }
}

pub fn element(e: &Element) -> Expression<'static> {
    match e {
        Element::Addr(a) => ip(a),
        Element::Range(a, b) if a == b => ip(a),
        Element::Range(a, b) => Expression::Range(Box::new(nftables::expr::Range {
            range: [ip(a), ip(b)],
        })),
        Element::AddrProtoPort(a, p, port) => Expression::Named(NamedExpression::Concat(vec![
            ip(a),
            Expression::String(Cow::Borrowed(proto_name(*p))),
            Expression::Number(u32::from(*port)),
        ])),
        Element::Pair(a, b) => Expression::Named(NamedExpression::Concat(vec![ip(a), ip(b)])),
    }
}

fn eq(left: Expression<'static>, right: Expression<'static>, op: Operator) -> Statement<'static> {
    Statement::Match(NfMatch { left, right, op })
}

fn set_ref(name: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(format!("@{name}")))
}

fn statement(m: &Match) -> Statement<'static> {
    match m {
        Match::CtState(states) => eq(
            Expression::Named(NamedExpression::CT(CT {
                key: Cow::Borrowed("state"),
                family: None,
                dir: None,
            })),
            Expression::List(
                states
                    .iter()
                    .map(|s| Expression::String(Cow::Borrowed(*s)))
                    .collect(),
            ),
            Operator::IN,
        ),
        Match::AddrInSet(f, side, set) => eq(addr_payload(*f, *side), set_ref(set), Operator::EQ),
        Match::AddrNotInSet(f, side, set) => {
            eq(addr_payload(*f, *side), set_ref(set), Operator::NEQ)
        }
        Match::PairInSet(f, set) => eq(
            Expression::Named(NamedExpression::Concat(vec![
                addr_payload(*f, Addr::Source),
                addr_payload(*f, Addr::Destination),
            ])),
            set_ref(set),
            Operator::EQ,
        ),
        Match::DaddrProtoPortInSet(f, set) => eq(
            Expression::Named(NamedExpression::Concat(vec![
                addr_payload(*f, Addr::Destination),
                l4proto(),
                payload("th", "dport"),
            ])),
            set_ref(set),
            Operator::EQ,
        ),
        Match::L4Proto(p) => eq(
            l4proto(),
            Expression::String(Cow::Borrowed(proto_name(*p))),
            Operator::EQ,
        ),
        Match::Dports(ranges) => eq(
            payload("th", "dport"),
            Expression::Named(NamedExpression::Set(
                ranges
                    .iter()
                    .map(|&(s, e)| SetItem::Element(port_range(s, e)))
                    .collect(),
            )),
            Operator::IN,
        ),
        Match::NeighbourDiscovery => eq(
            payload("icmpv6", "type"),
            Expression::Named(NamedExpression::Set(
                crate::text::ND_TYPES
                    .iter()
                    .map(|t| SetItem::Element(Expression::String(Cow::Borrowed(*t))))
                    .collect(),
            )),
            Operator::IN,
        ),
    }
}

pub(crate) fn rule(chain: &str, r: &RuleDef) -> Value {
    let mut stmts: Vec<Value> = r
        .matches
        .iter()
        .map(|m| serde_json::to_value(statement(m)).expect("statement"))
        .collect();
    if r.counter {
        stmts.push(
            serde_json::to_value(Statement::Counter(Counter::Anonymous(Some(
                AnonymousCounter {
                    packets: Some(0),
                    bytes: Some(0),
                },
            ))))
            .expect("counter"),
        );
    }
    if let Some((rate, burst)) = r.limit {
        stmts.push(json!({"limit": {"rate": rate, "per": "second", "burst": burst}}));
    }
    if let Some((group, prefix)) = &r.log {
        stmts.push(
            serde_json::to_value(Statement::Log(Some(Log {
                prefix: Some(Cow::Owned(prefix.clone())),
                group: Some(u32::from(*group)),
                snaplen: None,
                queue_threshold: None,
                level: None,
                flags: None,
            })))
            .expect("log"),
        );
    }
    let verdict = match &r.verdict {
        Verdict::Next => None,
        Verdict::Accept => Some(serde_json::to_value(Statement::Accept(None)).expect("accept")),
        Verdict::Drop => Some(serde_json::to_value(Statement::Drop(None)).expect("drop")),
        // Raw: the crate's vmap statement works, but its data must name a verdict map,
        // which the crate cannot declare; keep both halves in one place.
        Verdict::Vmap(f, side, map) => Some(json!({
            "vmap": {
                "key": serde_json::to_value(addr_payload(*f, *side)).expect("payload"),
                "data": format!("@{map}")
            }
        })),
    };
    stmts.extend(verdict);
    let mut obj = typed(NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        chain: Cow::Owned(chain.to_string()),
        expr: Cow::Owned(Vec::new()),
        handle: None,
        index: None,
        comment: r
            .comment
            .as_deref()
            .map(|c| Cow::Owned(crate::text::clip(c))),
    }));
    obj["rule"]["expr"] = Value::Array(stmts);
    obj
}

fn set_type(kind: SetKind) -> SetTypeValue<'static> {
    let addr = match kind.family() {
        Family::V4 => SetType::Ipv4Addr,
        Family::V6 => SetType::Ipv6Addr,
    };
    match kind {
        SetKind::Addr(_) | SetKind::AddrRange(_) => SetTypeValue::Single(addr),
        SetKind::AddrProtoPort(_) => SetTypeValue::Concatenated(Cow::Owned(vec![
            addr,
            SetType::InetProto,
            SetType::InetService,
        ])),
        SetKind::AddrPair(_) => SetTypeValue::Concatenated(Cow::Owned(vec![addr, addr])),
    }
}

pub(crate) fn set(name: &str, def: &SetDef) -> Value {
    let flags = matches!(def.kind, SetKind::AddrRange(_)).then(|| {
        let mut f = HashSet::new();
        f.insert(SetFlag::Interval);
        f
    });
    let elem: Vec<Expression<'static>> = def.elements.iter().map(element).collect();
    typed(NfListObject::Set(Box::new(Set {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Owned(name.to_string()),
        set_type: set_type(def.kind),
        flags,
        elem: (!elem.is_empty()).then(|| Cow::Owned(elem)),
        ..Set::default()
    })))
}

fn map_type(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4_addr",
        Family::V6 => "ipv6_addr",
    }
}

pub fn map_elements(m: &MapDef) -> Vec<Value> {
    m.elements
        .iter()
        .map(|(a, chain)| json!([a.to_string(), {"goto": {"target": chain}}]))
        .collect()
}

fn map(name: &str, m: &MapDef) -> Value {
    let mut v = json!({
        "map": {
            "family": "inet", "table": TABLE, "name": name,
            "type": map_type(m.family), "map": "verdict"
        }
    });
    if !m.elements.is_empty() {
        v["map"]["elem"] = Value::Array(map_elements(m));
    }
    v
}

pub(crate) fn chain(c: &ChainDef) -> Value {
    let (ty, hook, prio, policy) = match c.base {
        Some(b) => (
            Some(NfChainType::Filter),
            Some(match b.hook {
                Hook::Input => NfHook::Input,
                Hook::Postrouting => NfHook::Postrouting,
            }),
            Some(b.priority),
            Some(NfChainPolicy::Accept),
        ),
        None => (None, None, None, None),
    };
    typed(NfListObject::Chain(Chain {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Owned(c.name.clone()),
        _type: ty,
        hook,
        prio,
        policy,
        ..Chain::default()
    }))
}

pub fn table() -> Value {
    typed(NfListObject::Table(Table {
        family: NfFamily::INet,
        name: Cow::Borrowed(TABLE),
        handle: None,
    }))
}

/// The commands that create the whole table (to follow a delete of the old one).
pub fn create_commands(rs: &Ruleset) -> Vec<Value> {
    let mut cmds = vec![add(table())];
    cmds.extend(rs.sets.iter().map(|(n, s)| add(set(n, s))));
    // Chains before maps: map elements jump to chains.
    cmds.extend(rs.chains.iter().map(|c| add(chain(c))));
    cmds.extend(rs.maps.iter().map(|(n, m)| add(map(n, m))));
    for c in &rs.chains {
        cmds.extend(c.rules.iter().map(|r| add(rule(&c.name, r))));
    }
    cmds
}

/// One atomic transaction replacing the table: create (so that delete cannot fail),
/// delete, create anew.
pub fn replace_document(rs: &Ruleset) -> Value {
    let mut cmds = vec![add(table()), json!({ "delete": table() })];
    cmds.extend(create_commands(rs));
    json!({ "nftables": cmds })
}

/// The ruleset as a JSON document of `add` commands (what `compile -o json` prints).
pub fn document(rs: &Ruleset) -> Value {
    json!({ "nftables": create_commands(rs) })
}

/// A document string that must not reach nft.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refusing to write {found:?} (a control character) to nftables in {context:?}: nft cannot read it back as it was meant")]
pub struct UnsafeString {
    /// The string, clipped, with the character escaped.
    pub context: String,
    pub found: char,
}

/// Serialises a document for nft, refusing any string (or key) that holds a NUL or
/// another control character: escaped as `\u0000` it is valid JSON, but nft's parser
/// rejects it, and from a pipe nft then exits 0 having applied nothing.
pub fn to_text(doc: &Value) -> Result<String, UnsafeString> {
    fn walk(v: &Value) -> Result<(), UnsafeString> {
        let check = |s: &str| match s.chars().find(|c| c.is_control()) {
            Some(found) => Err(UnsafeString {
                context: s.chars().take(80).collect(),
                found,
            }),
            None => Ok(()),
        };
        match v {
            Value::String(s) => check(s),
            Value::Array(a) => a.iter().try_for_each(walk),
            Value::Object(m) => m.iter().try_for_each(|(k, v)| {
                check(k)?;
                walk(v)
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }
    walk(doc)?;
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused() {
        let doc = json!({"nftables": [{"add": {"rule": {"comment": "prod/a\u{0}b"}}}]});
        let err = to_text(&doc).unwrap_err();
        assert_eq!(err.found, '\0');
        assert!(err.context.starts_with("prod/a"));
        assert_eq!(to_text(&json!({"k\n": 1})).unwrap_err().found, '\n');
        assert_eq!(to_text(&json!(["tab\there"])).unwrap_err().found, '\t');
        let fine = json!({"nftables": [{"add": {"rule": {"comment": "prod/db ingress[0]"}}}]});
        assert_eq!(to_text(&fine).unwrap(), fine.to_string());
    }
}
