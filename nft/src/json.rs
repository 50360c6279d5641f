//! The ruleset as nftables JSON (`nft -j -f`). Every command is built with the
//! `nftables` crate's schema types ([`NfCmd`] over [`NfListObject`]: [`Table`], [`Chain`],
//! [`Rule`], [`Set`], [`schema::Element`]; statements and expressions from
//! `nftables::stmt` and `nftables::expr`, `Limit` and `VerdictMap` among them) and
//! serialised on its own, straight into the writer of the document: no document is ever
//! whole in memory, as a `Value` or as typed commands.
//!
//! Raw JSON in one place: the crate's `schema::Map` names the type of its values with a
//! `SetTypeValue`, which has no `verdict`, so the declaration of a verdict map ([`map`])
//! is written by hand; its elements are the crate's expressions.
//!
//! Strings are checked as they are written (see [`UnsafeString`]).

use crate::delta::Delta;
use crate::ruleset::*;
use netfence_model::{Family, Protocol};
use nftables::expr::{
    Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, SetItem, CT,
};
use nftables::schema::{
    self, Chain, FlushObject, NfCmd, NfListObject, Rule, Set, SetFlag, SetType, SetTypeValue, Table,
};
use nftables::stmt::{
    AnonymousCounter, Counter, JumpTarget, Limit, Log, Match as NfMatch, Operator, Statement,
    VerdictMap,
};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;

/// One command of a document.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Command<'a> {
    /// A command the crate's schema describes (all but one).
    Nf(NfCmd<'a>),
    /// A command written as raw JSON because the crate has no type for it: only the
    /// declaration of a verdict map (see [`map`]).
    Raw(Value),
}

fn add(obj: NfListObject<'_>) -> Command<'_> {
    Command::Nf(NfCmd::Add(obj))
}

fn delete(obj: NfListObject<'_>) -> Command<'_> {
    Command::Nf(NfCmd::Delete(obj))
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

/// A set element as nft reads it.
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

/// A verdict map element: the address and a `goto` (or `jump`) to the chain of its pod.
fn map_element<'a>(call: MapCall, addr: &IpAddr, chain: &'a str) -> Expression<'a> {
    let target = JumpTarget {
        target: Cow::Borrowed(chain),
    };
    Expression::List(vec![
        ip(addr),
        Expression::Verdict(match call {
            MapCall::Goto => nftables::expr::Verdict::Goto(target),
            MapCall::Jump => nftables::expr::Verdict::Jump(target),
        }),
    ])
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
        Match::Dport(lo, hi) => eq(payload("th", "dport"), port_range(*lo, *hi), Operator::EQ),
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

/// Anonymous sets nft creates for a match as `statement` writes it: each takes a handle
/// in the table like a named set (see `verify`).
pub(crate) fn anonymous_sets(m: &Match) -> usize {
    match m {
        Match::NeighbourDiscovery => 1,
        _ => 0,
    }
}

fn verdict(v: &Verdict) -> Option<Statement<'_>> {
    match v {
        Verdict::Next => None,
        Verdict::Accept => Some(Statement::Accept(None)),
        Verdict::Drop => Some(Statement::Drop(None)),
        Verdict::Vmap(f, side, map) => Some(Statement::VerdictMap(VerdictMap {
            key: addr_payload(*f, *side),
            data: set_ref(map),
        })),
        Verdict::Jump(chain) => Some(Statement::Jump(JumpTarget {
            target: Cow::Borrowed(chain),
        })),
        Verdict::Return => Some(Statement::Return(None)),
    }
}

fn rule<'a>(chain: &'a str, r: &'a RuleDef) -> NfListObject<'a> {
    let mut expr: Vec<Statement<'a>> = r.matches.iter().map(statement).collect();
    if r.counter {
        expr.push(Statement::Counter(Counter::Anonymous(Some(
            AnonymousCounter {
                packets: Some(0),
                bytes: Some(0),
            },
        ))));
    }
    if let Some((rate, burst)) = r.limit {
        expr.push(Statement::Limit(Limit {
            rate,
            rate_unit: None,
            per: Some(Cow::Borrowed("second")),
            burst: Some(burst),
            burst_unit: None,
            inv: None,
        }));
    }
    if let Some((group, prefix)) = &r.log {
        expr.push(Statement::Log(Some(Log {
            prefix: Some(Cow::Borrowed(prefix)),
            ..Log::new(Some(u32::from(*group)))
        })));
    }
    expr.extend(verdict(&r.verdict));
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        chain: Cow::Borrowed(chain),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: r
            .comment
            .as_deref()
            .map(|c| Cow::Owned(crate::text::clip(c))),
    })
}

fn addr_type(f: Family) -> SetType {
    match f {
        Family::V4 => SetType::Ipv4Addr,
        Family::V6 => SetType::Ipv6Addr,
    }
}

fn set_type(kind: SetKind) -> SetTypeValue<'static> {
    let addr = addr_type(kind.family());
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

/// A named set of `kind`, created holding `elem`. Also names a set to delete: nft then
/// reads its family, table and name only.
fn set_object<'a>(name: &'a str, kind: SetKind, elem: Vec<Expression<'a>>) -> NfListObject<'a> {
    let flags = matches!(kind, SetKind::AddrRange(_)).then(|| HashSet::from([SetFlag::Interval]));
    NfListObject::Set(Box::new(Set {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        set_type: set_type(kind),
        flags,
        elem: (!elem.is_empty()).then_some(Cow::Owned(elem)),
        ..Set::default()
    }))
}

fn set<'a>(name: &'a str, def: &SetDef) -> NfListObject<'a> {
    set_object(name, def.kind, def.elements.iter().map(element).collect())
}

/// Elements to add to or delete from the set or map `name`.
fn elements<'a>(name: &'a str, elem: Vec<Expression<'a>>) -> NfListObject<'a> {
    NfListObject::Element(schema::Element {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        elem: Cow::Owned(elem),
    })
}

/// `add map` of a verdict map from a pod address to the chain of its policies. Raw
/// JSON: the crate's `schema::Map` types its values with `SetTypeValue`, which has no
/// `verdict`. The key type and the elements are the crate's.
fn map<'a>(name: &'a str, m: &'a MapDef) -> Command<'a> {
    let mut decl = json!({
        "family": NfFamily::INet,
        "table": TABLE,
        "name": name,
        "type": addr_type(m.family),
        "map": "verdict",
    });
    if !m.elements.is_empty() {
        let elem: Vec<Expression> = m
            .elements
            .iter()
            .map(|(a, c)| map_element(m.call, a, c))
            .collect();
        decl["elem"] = serde_json::to_value(elem).expect("expressions serialise");
    }
    Command::Raw(json!({ "add": { "map": decl } }))
}

/// A chain: a base chain with its hook, priority and policy; a policy chain by name
/// (also what names a chain to flush or delete).
fn chain_object(name: &str, base: Option<BaseHook>) -> Chain<'_> {
    let (ty, hook, prio, policy) = match base {
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
    Chain {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        _type: ty,
        hook,
        prio,
        policy,
        ..Chain::default()
    }
}

fn chain(c: &ChainDef) -> NfListObject<'_> {
    NfListObject::Chain(chain_object(&c.name, c.base))
}

fn table<'a>() -> NfListObject<'a> {
    NfListObject::Table(Table {
        family: NfFamily::INet,
        name: Cow::Borrowed(TABLE),
        handle: None,
    })
}

/// Set elements per `add element` command: a set of every pod is sent in pieces, so no
/// one command grows with the cluster.
const ELEMENTS_PER_COMMAND: usize = 4096;

/// The commands that create the whole table (to follow a delete of the old one), made
/// one at a time as they are consumed.
pub fn create_commands(rs: &Ruleset) -> impl Iterator<Item = Command<'_>> + '_ {
    let sets = sets_by_use(rs).into_iter().flat_map(|(name, def)| {
        // Up to a command's worth of elements go with the set: an `add element` makes
        // the kernel look the set up by name again (a walk of the table's sets).
        let mut rest = def.elements.iter().map(element);
        let first: Vec<Expression> = rest.by_ref().take(ELEMENTS_PER_COMMAND).collect();
        let more = std::iter::from_fn(move || {
            let chunk: Vec<Expression> = rest.by_ref().take(ELEMENTS_PER_COMMAND).collect();
            (!chunk.is_empty()).then(|| add(elements(name, chunk)))
        });
        std::iter::once(add(set_object(name, def.kind, first))).chain(more)
    });
    std::iter::once(add(table()))
        .chain(sets)
        // Chains before maps: map elements jump to chains. All chains before any rule:
        // union chains jump to policy chains.
        .chain(rs.chains.iter().map(|c| add(chain(c))))
        .chain(rs.maps.iter().map(|(n, m)| map(n, m)))
        .chain(
            rs.chains
                .iter()
                .flat_map(|c| c.rules.iter().map(move |r| add(rule(&c.name, r)))),
        )
}

/// The sets, the most used first. The kernel finds the set a rule names by walking the
/// table's sets in creation order, so creating the sets many rules use first cut that
/// walk four times at 10,000 policies (`all_v4`, say, is in thousands of rules).
fn sets_by_use(rs: &Ruleset) -> Vec<(&String, &SetDef)> {
    let mut uses: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in rs
        .chains
        .iter()
        .flat_map(|c| &c.rules)
        .flat_map(|r| &r.matches)
    {
        if let Match::AddrInSet(_, _, s)
        | Match::AddrNotInSet(_, _, s)
        | Match::PairInSet(_, s)
        | Match::DaddrProtoPortInSet(_, s) = m
        {
            *uses.entry(s.as_str()).or_default() += 1;
        }
    }
    let mut sets: Vec<(&String, &SetDef)> = rs.sets.iter().collect();
    // Stable: equally used sets keep name order, so equal rulesets send equal documents.
    sets.sort_by_key(|(name, _)| std::cmp::Reverse(uses.get(name.as_str()).copied().unwrap_or(0)));
    sets
}

/// The commands of one atomic transaction replacing the table: create (so that delete
/// cannot fail), delete, create anew; last, when given, the seal (see [`SEAL_SET`]).
pub fn replace_commands(
    rs: &Ruleset,
    seal: Option<Seal>,
) -> impl Iterator<Item = Command<'_>> + '_ {
    let seal = seal.map(|seal| {
        add(set_object(
            SEAL_SET,
            SetKind::Addr(Family::V6),
            vec![Expression::String(Cow::Owned(seal.element()))],
        ))
    });
    [add(table()), delete(table())]
        .into_iter()
        .chain(create_commands(rs))
        .chain(seal)
}

/// The commands of a delta, as one transaction, in an order the kernel accepts: what
/// points at a chain or set goes before it does (map elements, then rules), and what is
/// created exists before anything points at it.
pub fn delta_commands(d: &Delta) -> Vec<Command<'_>> {
    let flush = |name| Command::Nf(NfCmd::Flush(FlushObject::Chain(chain_object(name, None))));
    let mut cmds = Vec::new();
    // A map element re-pointed is deleted, then added; elements pointing at chains
    // about to go are deleted before the chains.
    for (name, keys) in &d.map_del {
        cmds.push(delete(elements(name, keys.iter().map(ip).collect())));
    }
    // Rules go before the sets they use, and every jump before the chain it targets:
    // all chains changing or going are flushed before any is deleted (a union chain
    // going jumps to policy chains going).
    cmds.extend(d.chains_changed.iter().map(|c| flush(&c.name)));
    cmds.extend(d.chains_gone.iter().map(|name| flush(name)));
    for name in &d.chains_gone {
        cmds.push(delete(NfListObject::Chain(chain_object(name, None))));
    }
    for (name, kind) in &d.sets_gone {
        cmds.push(delete(set_object(name, *kind, Vec::new())));
    }
    for (name, els) in &d.set_del {
        cmds.push(delete(elements(name, els.iter().map(element).collect())));
    }
    for (name, def) in &d.sets_new {
        cmds.push(add(set(name, def)));
    }
    for (name, els) in &d.set_add {
        cmds.push(add(elements(name, els.iter().map(element).collect())));
    }
    for c in &d.chains_new {
        cmds.push(add(chain(c)));
    }
    for c in d.chains_new.iter().chain(&d.chains_changed) {
        cmds.extend(c.rules.iter().map(|r| add(rule(&c.name, r))));
    }
    for (name, (call, pairs)) in &d.map_add {
        let elem = pairs
            .iter()
            .map(|(a, c)| map_element(*call, a, c))
            .collect();
        cmds.push(add(elements(name, elem)));
    }
    cmds
}

/// The mark of one full replace: an address held by the seal set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Seal(pub u64);

impl Seal {
    /// A mark no earlier replace of this process (or, by the clock and a random key,
    /// of another) used.
    pub fn fresh() -> Seal {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Seal(h.finish())
    }

    /// The seal's element: `fd00::` plus the mark in the low 64 bits.
    pub fn element(self) -> String {
        std::net::Ipv6Addr::from((0xfd00u128 << 112) | u128::from(self.0)).to_string()
    }
}

/// `{"nftables": [commands]}`, each command made and serialised as the one before has
/// been written.
struct Document<I>(RefCell<Option<I>>);

impl<'a, I: Iterator<Item = Command<'a>>> Document<I> {
    fn new(commands: I) -> Self {
        Document(RefCell::new(Some(commands)))
    }
}

impl<'a, I: Iterator<Item = Command<'a>>> Serialize for Document<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap, SerializeSeq};
        struct Commands<'d, I>(&'d RefCell<Option<I>>);
        impl<'a, I: Iterator<Item = Command<'a>>> Serialize for Commands<'_, I> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let commands = self.0.borrow_mut().take();
                let commands = commands.ok_or_else(|| S::Error::custom("serialised twice"))?;
                let mut seq = s.serialize_seq(None)?;
                for cmd in commands {
                    seq.serialize_element(&cmd)?;
                }
                seq.end()
            }
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("nftables", &Commands(&self.0))?;
        map.end()
    }
}

/// The commands as one JSON value (tests, small tables, showing a delta; what reaches
/// nft is streamed with [`write_document`]).
pub fn document_value<'a>(commands: impl IntoIterator<Item = Command<'a>>) -> Value {
    serde_json::to_value(Document::new(commands.into_iter())).expect("commands serialise")
}

/// The replace transaction as one JSON value (tests and small tables; the controller
/// and the CLI stream it with [`write_document`]).
pub fn replace_document(rs: &Ruleset) -> Value {
    document_value(replace_commands(rs, None))
}

/// The ruleset as a JSON document of `add` commands.
pub fn document(rs: &Ruleset) -> Value {
    document_value(create_commands(rs))
}

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Unsafe(#[from] UnsafeString),
    #[error("writing the document: {0}")]
    Io(#[from] io::Error),
}

impl From<serde_json::Error> for WriteError {
    /// The refusal of a [`Checked`] formatter travels as the payload of an I/O error.
    fn from(e: serde_json::Error) -> Self {
        let e = io::Error::from(e);
        match e.get_ref().and_then(|r| r.downcast_ref::<UnsafeString>()) {
            Some(refused) => WriteError::Unsafe(refused.clone()),
            None => WriteError::Io(e),
        }
    }
}

/// Writes `{"nftables": [commands]}`, each command serialised into `out` as it is made:
/// only one command is ever held. Strings are checked as they are written (see
/// [`UnsafeString`]); on an unsafe one the output stops there and is not a document nft
/// could run.
pub fn write_document<'a>(
    out: impl Write,
    commands: impl IntoIterator<Item = Command<'a>>,
    pretty: bool,
) -> Result<(), WriteError> {
    let doc = Document::new(commands.into_iter());
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    if pretty {
        let format = Checked::new(PrettyFormatter::new());
        doc.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, format,
        ))?;
    } else {
        let format = Checked::new(CompactFormatter);
        doc.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, format,
        ))?;
    }
    out.flush()?;
    Ok(())
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
    let mut out = Vec::new();
    let format = Checked::new(CompactFormatter);
    match doc.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, format,
    )) {
        Ok(()) => Ok(String::from_utf8(out).expect("serde_json writes UTF-8")),
        Err(e) => match WriteError::from(e) {
            WriteError::Unsafe(refused) => Err(refused),
            WriteError::Io(e) => unreachable!("writing JSON to memory failed: {e}"),
        },
    }
}

/// A JSON formatter (compact or pretty) that refuses, as it is written, any string or
/// key holding a control character (a char `is_control`: C0, DEL, C1), whether
/// serde_json escapes it (C0) or not (DEL, C1). The refusal is an I/O error carrying the
/// [`UnsafeString`], which ends the serialisation.
struct Checked<F> {
    inner: F,
    /// The string being written, for the refusal's context.
    string: String,
    found: Option<char>,
}

impl<F> Checked<F> {
    fn new(inner: F) -> Self {
        Checked {
            inner,
            string: String::new(),
            found: None,
        }
    }

    fn saw(&mut self, text: &str) {
        if self.found.is_none() {
            self.found = text.chars().find(|c| c.is_control());
        }
        self.string.push_str(text);
    }
}

/// Passes formatter methods on to the inner formatter.
macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[inline]
        fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.inner.$name(w $(, $arg)*)
        }
    )*};
}

impl<F: Formatter> Formatter for Checked<F> {
    // The structure (what the pretty formatter indents). Scalars other than strings
    // are written by the trait's defaults, as both inner formatters write them.
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.string.clear();
        self.found = None;
        self.inner.begin_string(w)
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        self.saw(s);
        self.inner.write_string_fragment(w, s)
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, w: &mut W, e: CharEscape) -> io::Result<()> {
        let c = match &e {
            CharEscape::Quote => '"',
            CharEscape::ReverseSolidus => '\\',
            CharEscape::Solidus => '/',
            CharEscape::Backspace => '\u{8}',
            CharEscape::FormFeed => '\u{c}',
            CharEscape::LineFeed => '\n',
            CharEscape::CarriageReturn => '\r',
            CharEscape::Tab => '\t',
            CharEscape::AsciiControl(b) => char::from(*b),
        };
        self.saw(c.encode_utf8(&mut [0; 4]));
        self.inner.write_char_escape(w, e)
    }

    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(found) = self.found.take() {
            let refused = UnsafeString {
                context: self.string.chars().take(80).collect(),
                found,
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, refused));
        }
        self.inner.end_string(w)
    }
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
        // Not escaped by serde_json, control characters all the same.
        assert_eq!(to_text(&json!(["del\u{7f}"])).unwrap_err().found, '\u{7f}');
        assert_eq!(to_text(&json!(["nel\u{85}"])).unwrap_err().found, '\u{85}');
        let fine =
            json!({"nftables": [{"add": {"rule": {"comment": "prod/db \"ingress\"\\[0]"}}}]});
        assert_eq!(to_text(&fine).unwrap(), fine.to_string());
    }

    fn commented(comment: &str) -> Ruleset {
        Ruleset {
            chains: vec![ChainDef {
                name: "in_a".into(),
                base: None,
                rules: vec![RuleDef::new(Vec::new(), Verdict::Drop).comment(comment)],
            }],
            ..Ruleset::default()
        }
    }

    #[test]
    fn a_document_is_written_as_serde_json_writes_it_and_refused_at_a_control_character() {
        let rs = commented("ns/a ingress");
        let value = replace_document(&rs);
        let mut compact = Vec::new();
        write_document(&mut compact, replace_commands(&rs, None), false).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&compact).unwrap(),
            value,
            "{}",
            String::from_utf8_lossy(&compact)
        );
        // Pretty: the checking formatter indents as serde_json's own does.
        let mut pretty = Vec::new();
        write_document(&mut pretty, replace_commands(&rs, None), true).unwrap();
        #[derive(Serialize)]
        struct Whole<'a> {
            nftables: Vec<Command<'a>>,
        }
        let whole = Whole {
            nftables: replace_commands(&rs, None).collect(),
        };
        let expected = serde_json::to_string_pretty(&whole).unwrap();
        assert_eq!(String::from_utf8(pretty).unwrap(), expected);
        let mut empty = Vec::new();
        write_document(&mut empty, Vec::<Command>::new(), true).unwrap();
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            "{\n  \"nftables\": []\n}"
        );

        let rs = commented("ns/a\u{0}b");
        let err = write_document(Vec::new(), replace_commands(&rs, None), false).unwrap_err();
        let WriteError::Unsafe(refused) = err else {
            panic!("not refused: {err}")
        };
        assert_eq!(
            (refused.context.as_str(), refused.found),
            ("ns/a\u{0}b", '\0')
        );
    }
}
