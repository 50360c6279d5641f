//! The ruleset in nft's own syntax (`nft -f`), for people and for `compile -o nft`.

use crate::ruleset::*;
use netfence_model::{Family, Protocol};
use std::fmt::Write;

/// ICMPv6 types that must pass for isolated IPv6 pods to keep their neighbours.
pub const ND_TYPES: [&str; 5] = [
    "nd-router-solicit",
    "nd-router-advert",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "nd-redirect",
];

/// nft limits comments to 128 bytes.
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| *c != '"').collect();
    while out.len() > 127 {
        out.pop();
    }
    out
}

fn ipver(f: Family) -> &'static str {
    match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

fn side(s: Addr) -> &'static str {
    match s {
        Addr::Source => "saddr",
        Addr::Destination => "daddr",
    }
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

pub fn element(e: &Element) -> String {
    match e {
        Element::Addr(a) => a.to_string(),
        Element::Range(a, b) if a == b => a.to_string(),
        Element::Range(a, b) => format!("{a}-{b}"),
        Element::AddrProtoPort(a, p, port) => format!("{a} . {} . {port}", proto(*p)),
        Element::Pair(a, b) => format!("{a} . {b}"),
    }
}

fn set_type(kind: SetKind) -> String {
    let addr = match kind.family() {
        Family::V4 => "ipv4_addr",
        Family::V6 => "ipv6_addr",
    };
    match kind {
        SetKind::Addr(_) | SetKind::AddrRange(_) => addr.to_string(),
        SetKind::AddrProtoPort(_) => format!("{addr} . inet_proto . inet_service"),
        SetKind::AddrPair(_) => format!("{addr} . {addr}"),
    }
}

fn matches(m: &Match) -> String {
    match m {
        Match::CtState(s) => format!("ct state {}", s.join(",")),
        Match::AddrInSet(f, s, set) => format!("{} {} @{set}", ipver(*f), side(*s)),
        Match::AddrNotInSet(f, s, set) => format!("{} {} != @{set}", ipver(*f), side(*s)),
        Match::PairInSet(f, set) => {
            format!("{0} saddr . {0} daddr @{set}", ipver(*f))
        }
        Match::DaddrProtoPortInSet(f, set) => {
            format!("{} daddr . meta l4proto . th dport @{set}", ipver(*f))
        }
        Match::L4Proto(p) => format!("meta l4proto {}", proto(*p)),
        Match::Dport(s, e) if s == e => format!("th dport {s}"),
        Match::Dport(s, e) => format!("th dport {s}-{e}"),
        Match::NeighbourDiscovery => format!("icmpv6 type {{ {} }}", ND_TYPES.join(", ")),
    }
}

fn rule(r: &RuleDef) -> String {
    let mut parts: Vec<String> = r.matches.iter().map(matches).collect();
    if r.counter {
        parts.push("counter".into());
    }
    if let Some((rate, burst)) = r.limit {
        parts.push(format!("limit rate {rate}/second burst {burst} packets"));
    }
    if let Some((group, prefix)) = &r.log {
        parts.push(format!("log prefix \"{}\" group {group}", clip(prefix)));
    }
    match &r.verdict {
        Verdict::Next => {}
        Verdict::Accept => parts.push("accept".into()),
        Verdict::Drop => parts.push("drop".into()),
        Verdict::Vmap(f, s, map) => parts.push(format!("{} {} vmap @{map}", ipver(*f), side(*s))),
        Verdict::Jump(chain) => parts.push(format!("jump {chain}")),
        Verdict::Return => parts.push("return".into()),
    }
    if let Some(c) = &r.comment {
        parts.push(format!("comment \"{}\"", clip(c)));
    }
    parts.join(" ")
}

/// The table as an `nft -f` script (creates it; see `replace_script` to swap it in).
pub fn table_script(rs: &Ruleset) -> String {
    let mut out = format!("table inet {TABLE} {{\n");
    for (name, s) in &rs.sets {
        let _ = writeln!(out, "\tset {name} {{\n\t\ttype {}", set_type(s.kind));
        if matches!(s.kind, SetKind::AddrRange(_)) {
            out.push_str("\t\tflags interval\n");
        }
        if !s.elements.is_empty() {
            let items: Vec<String> = s.elements.iter().map(element).collect();
            let _ = writeln!(out, "\t\telements = {{ {} }}", items.join(", "));
        }
        out.push_str("\t}\n");
    }
    for c in &rs.chains {
        let _ = writeln!(out, "\tchain {} {{", c.name);
        if let Some(b) = c.base {
            let hook = match b.hook {
                Hook::Input => "input",
                Hook::Postrouting => "postrouting",
            };
            let _ = writeln!(
                out,
                "\t\ttype filter hook {hook} priority {}; policy accept;",
                b.priority
            );
        }
        for r in &c.rules {
            let _ = writeln!(out, "\t\t{}", rule(r));
        }
        out.push_str("\t}\n");
    }
    // Maps after chains: their elements jump to chains.
    for (name, m) in &rs.maps {
        let ty = match m.family {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        };
        let _ = writeln!(out, "\tmap {name} {{\n\t\ttype {ty} : verdict");
        if !m.elements.is_empty() {
            let items: Vec<String> = m
                .elements
                .iter()
                .map(|(a, c)| match m.call {
                    MapCall::Goto => format!("{a} : goto {c}"),
                    MapCall::Jump => format!("{a} : jump {c}"),
                })
                .collect();
            let _ = writeln!(out, "\t\telements = {{ {} }}", items.join(", "));
        }
        out.push_str("\t}\n");
    }
    out.push_str("}\n");
    out
}

/// An `nft -f` script that atomically replaces the table.
pub fn replace_script(rs: &Ruleset) -> String {
    format!(
        "table inet {TABLE}\ndelete table inet {TABLE}\n{}",
        table_script(rs)
    )
}
