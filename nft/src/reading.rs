//! The table as the drift check and the drop counters read it back: `nft -j list table`
//! parsed as it streams out of nft into the few fields they need. A rule's expressions
//! reduce to "ends in drop" and its counter; a set's elements to their count. Built as a
//! `serde_json::Value`, the listing of 10,000 policies took the controller past 1 GB.

use crate::ruleset::SEAL_SET;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Our table, reduced.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct TableReading {
    /// Set name -> element count (None for interval sets, whose elements nft may merge).
    pub sets: BTreeMap<String, Option<usize>>,
    /// Map name -> address -> chain (`goto` or `jump` targets).
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
    /// Chain name -> its rules, in order.
    pub chains: BTreeMap<String, Vec<RuleReading>>,
}

/// One rule, reduced.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RuleReading {
    pub comment: Option<String>,
    /// Whether the rule's verdict is `drop`.
    pub drops: bool,
    /// The packets of its counter, if it has one.
    pub packets: Option<u64>,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    nftables: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    set: Option<SetItem>,
    map: Option<MapItem>,
    chain: Option<Named>,
    rule: Option<RuleItem>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct SetItem {
    name: String,
    #[serde(default)]
    flags: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "count")]
    elem: usize,
}

#[derive(Deserialize)]
struct MapItem {
    name: String,
    #[serde(default)]
    elem: Vec<(serde_json::Value, MapData)>,
}

#[derive(Deserialize)]
struct MapData {
    goto: Option<Target>,
    jump: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    target: String,
}

#[derive(Deserialize)]
struct RuleItem {
    chain: String,
    comment: Option<String>,
    #[serde(default)]
    expr: Vec<Expr>,
}

#[derive(Deserialize)]
struct Expr {
    #[serde(default, deserialize_with = "present")]
    drop: bool,
    counter: Option<CounterItem>,
}

#[derive(Deserialize)]
struct CounterItem {
    packets: Option<u64>,
}

/// `"drop": null` is there even though its value is null.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// The length of a sequence, its items skipped unbuilt.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of set elements")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
        // nft writes a single element without the list.
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<usize, E> {
            Ok(1)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(1)
        }
    }
    d.deserialize_any(Count)
}

fn is_interval(flags: &Option<serde_json::Value>) -> bool {
    match flags {
        Some(serde_json::Value::String(s)) => s == "interval",
        Some(serde_json::Value::Array(a)) => a.iter().any(|f| f == "interval"),
        _ => false,
    }
}

/// Reads `nft -j list table inet netfence` output from `reader` as it arrives.
pub fn read(reader: impl std::io::Read) -> Result<TableReading, serde_json::Error> {
    let listing: Listing = serde_json::from_reader(std::io::BufReader::new(reader))?;
    let mut out = TableReading::default();
    for item in listing.nftables {
        if let Some(set) = item.set {
            // A replace's mark, in no ruleset (see `SEAL_SET`).
            if set.name != SEAL_SET {
                let count = (!is_interval(&set.flags)).then_some(set.elem);
                out.sets.insert(set.name, count);
            }
        } else if let Some(map) = item.map {
            let elements = map
                .elem
                .into_iter()
                .filter_map(|(key, data)| {
                    let target = data.goto.or(data.jump)?.target;
                    Some((key.as_str()?.to_string(), target))
                })
                .collect();
            out.maps.insert(map.name, elements);
        } else if let Some(chain) = item.chain {
            out.chains.entry(chain.name).or_default();
        } else if let Some(rule) = item.rule {
            let reading = RuleReading {
                comment: rule.comment,
                drops: rule.expr.iter().any(|e| e.drop),
                packets: rule.expr.iter().find_map(|e| e.counter.as_ref()?.packets),
            };
            out.chains.entry(rule.chain).or_default().push(reading);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_reduces_to_sets_maps_and_rules() {
        let text = r#"{"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "inet", "name": "netfence", "handle": 3}},
            {"set": {"family": "inet", "name": "pods_v4", "table": "netfence", "type": "ipv4_addr", "elem": ["10.0.0.1", "10.0.0.2"]}},
            {"set": {"family": "inet", "name": "one", "table": "netfence", "type": "ipv4_addr", "elem": "10.0.0.1"}},
            {"set": {"family": "inet", "name": "b", "table": "netfence", "type": "ipv4_addr", "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 8}}]}},
            {"set": {"family": "inet", "name": "seal", "table": "netfence", "type": "ipv6_addr", "elem": ["fd00::1"]}},
            {"map": {"family": "inet", "name": "ingress_v4", "table": "netfence", "type": "ipv4_addr", "map": "verdict", "elem": [["10.0.0.1", {"goto": {"target": "in_x"}}]]}},
            {"chain": {"family": "inet", "table": "netfence", "name": "in_x", "handle": 1}},
            {"chain": {"family": "inet", "table": "netfence", "name": "empty", "handle": 2}},
            {"rule": {"family": "inet", "table": "netfence", "chain": "in_x", "handle": 4, "expr": [{"jump": {"target": "po_y"}}]}},
            {"rule": {"family": "inet", "table": "netfence", "chain": "in_x", "handle": 5, "comment": "ingress isolated by a/b", "expr": [{"counter": {"packets": 7, "bytes": 420}}, {"drop": null}]}}
        ]}"#;
        let r = read(text.as_bytes()).unwrap();
        assert_eq!(
            r.sets,
            [
                ("pods_v4".to_string(), Some(2)),
                ("one".to_string(), Some(1)),
                ("b".to_string(), None)
            ]
            .into()
        );
        assert_eq!(r.maps["ingress_v4"]["10.0.0.1"], "in_x");
        assert!(r.chains["empty"].is_empty());
        let rules = &r.chains["in_x"];
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[1],
            RuleReading {
                comment: Some("ingress isolated by a/b".into()),
                drops: true,
                packets: Some(7)
            }
        );
        assert!(!rules[0].drops && rules[0].packets.is_none());
        assert!(read("{\"nftables\": [".as_bytes()).is_err());
    }
}
