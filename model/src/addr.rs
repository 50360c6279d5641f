//! Address sets: an ipBlock (cidr minus except) as interval sets per address family.

use crate::intervals::Intervals;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn of_net(net: &IpNet) -> Family {
        Family::of(&net.addr())
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

fn net_bounds_v4(net: &ipnet::Ipv4Net) -> (u32, u32) {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

fn net_bounds_v6(net: &ipnet::Ipv6Net) -> (u128, u128) {
    (u128::from(net.network()), u128::from(net.broadcast()))
}

/// A set of addresses of both families.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct AddrSet {
    pub v4: Intervals<u32>,
    pub v6: Intervals<u128>,
}

impl AddrSet {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn all() -> Self {
        AddrSet {
            v4: Intervals::full(),
            v6: Intervals::full(),
        }
    }

    pub fn from_net(net: &IpNet) -> Self {
        let mut s = Self::empty();
        match net {
            IpNet::V4(n) => {
                let (a, b) = net_bounds_v4(n);
                s.v4 = Intervals::range(a, b);
            }
            IpNet::V6(n) => {
                let (a, b) = net_bounds_v6(n);
                s.v6 = Intervals::range(a, b);
            }
        }
        s
    }

    pub fn contains(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(u32::from(*a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(*a)),
        }
    }

    /// True when every address of `net` is in the set.
    pub fn contains_net(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => {
                let (a, b) = net_bounds_v4(n);
                self.v4.contains_range(a, b)
            }
            IpNet::V6(n) => {
                let (a, b) = net_bounds_v6(n);
                self.v6.contains_range(a, b)
            }
        }
    }

    pub fn overlaps_net(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => {
                let (a, b) = net_bounds_v4(n);
                self.v4.overlaps_range(a, b)
            }
            IpNet::V6(n) => {
                let (a, b) = net_bounds_v6(n);
                self.v6.overlaps_range(a, b)
            }
        }
    }

    /// True when the set holds every address of the family.
    pub fn covers_family(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.v4.is_full(),
            Family::V6 => self.v6.is_full(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn union(&self, other: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.union(&other.v4),
            v6: self.v6.union(&other.v6),
        }
    }

    pub fn intersection(&self, other: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.intersection(&other.v4),
            v6: self.v6.intersection(&other.v6),
        }
    }

    pub fn difference(&self, other: &AddrSet) -> AddrSet {
        AddrSet {
            v4: self.v4.difference(&other.v4),
            v6: self.v6.difference(&other.v6),
        }
    }

    /// The set as inclusive address ranges (what an nftables interval set takes).
    pub fn v4_ranges(&self) -> impl Iterator<Item = (Ipv4Addr, Ipv4Addr)> + '_ {
        self.v4
            .ranges()
            .iter()
            .map(|&(a, b)| (Ipv4Addr::from(a), Ipv4Addr::from(b)))
    }

    pub fn v6_ranges(&self) -> impl Iterator<Item = (Ipv6Addr, Ipv6Addr)> + '_ {
        self.v6
            .ranges()
            .iter()
            .map(|&(a, b)| (Ipv6Addr::from(a), Ipv6Addr::from(b)))
    }
}

/// A validated ipBlock: `cidr` minus every `except`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
    /// The addresses the block matches.
    pub addrs: AddrSet,
}

impl IpBlock {
    /// Parses and validates an ipBlock as the API server does: each except must be a
    /// strict subset of the cidr, of the same family.
    pub fn parse(cidr: &str, except: &[String]) -> Result<IpBlock, String> {
        let cidr_net = parse_cidr(cidr)?;
        let mut addrs = AddrSet::from_net(&cidr_net);
        let mut nets = Vec::new();
        for e in except {
            let net = parse_cidr(e)?;
            if Family::of_net(&net) != Family::of_net(&cidr_net) {
                return Err(format!(
                    "except {e:?} is not of the same address family as cidr {cidr:?}"
                ));
            }
            if !cidr_net.contains(&net) || net.prefix_len() <= cidr_net.prefix_len() {
                return Err(format!(
                    "except {e:?} must be a strict subset of cidr {cidr:?}"
                ));
            }
            addrs = addrs.difference(&AddrSet::from_net(&net));
            nets.push(net);
        }
        Ok(IpBlock {
            cidr: cidr_net,
            except: nets,
            addrs,
        })
    }

    pub fn family(&self) -> Family {
        Family::of_net(&self.cidr)
    }

    /// The except entry that holds `addr`, if any (for explanations).
    pub fn except_holding(&self, addr: &IpAddr) -> Option<&IpNet> {
        self.except.iter().find(|n| n.contains(addr))
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cidr)?;
        if !self.except.is_empty() {
            let ex: Vec<String> = self.except.iter().map(ToString::to_string).collect();
            write!(f, " except {}", ex.join(", "))?;
        }
        Ok(())
    }
}

/// Parses a CIDR. Host bits are accepted and cleared, as the API server's parser does.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let net: IpNet = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid CIDR {s:?}: expected address/prefix-length"))?;
    Ok(net.trunc())
}

/// Parses a CIDR as the Kubernetes CEL function `isCIDR` accepts it (Go's
/// `netip.ParsePrefix`, then no IPv4-mapped IPv6 address): the text exactly, no
/// surrounding space; no leading zeros in IPv4 octets nor in the prefix length, no sign;
/// no IPv6 zone. Host bits are accepted (`isCIDR("10.0.0.1/8")` is true) and cleared here,
/// as an implementation parsing the CIDR does and as [`parse_cidr`] does for ipBlocks.
pub fn parse_cel_cidr(s: &str) -> Result<IpNet, String> {
    let bad = |why: &str| format!("invalid CIDR {s:?}: {why}");
    let (addr, bits) = s
        .rsplit_once('/')
        .ok_or_else(|| bad("expected address/prefix-length"))?;
    // std's parser, like netip's, refuses leading zeros in octets and zones.
    let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
    if let IpAddr::V6(v6) = addr {
        if v6.to_ipv4_mapped().is_some() {
            return Err(bad("IPv4-mapped IPv6 addresses are not allowed"));
        }
    }
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let digits = !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit());
    let canonical = bits == "0" || !bits.starts_with('0');
    let len: u8 = match bits.parse() {
        Ok(n) if digits && canonical && n <= max => n,
        _ => return Err(bad(&format!("prefix length must be 0-{max}"))),
    };
    let net = IpNet::new(addr, len).map_err(|_| bad(&format!("prefix length must be 0-{max}")))?;
    Ok(net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_cidrs() {
        for (ok, net) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::/0", "::/0"),
            ("FD00::1/8", "fd00::/8"),
            ("::1.2.3.4/128", "::102:304/128"),
        ] {
            assert_eq!(parse_cel_cidr(ok).unwrap().to_string(), net, "{ok}");
        }
        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "010.0.0.0/8",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "fe80::1%eth0/64",
            "::ffff:1.2.3.4/120",
            "10.0.0.0/8/8",
        ] {
            assert!(parse_cel_cidr(bad).is_err(), "{bad}");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ip_block_subtracts_excepts() {
        let b = IpBlock::parse("10.0.0.0/16", &["10.0.5.0/24".into()]).unwrap();
        assert!(b.addrs.contains(&ip("10.0.4.255")));
        assert!(!b.addrs.contains(&ip("10.0.5.7")));
        assert!(b.addrs.contains(&ip("10.0.6.0")));
        assert!(!b.addrs.contains(&ip("10.1.0.0")));
        assert!(!b.addrs.contains(&ip("fd00::1")));
        assert_eq!(
            b.except_holding(&ip("10.0.5.7")).unwrap().to_string(),
            "10.0.5.0/24"
        );
    }

    #[test]
    fn ip_block_validation() {
        assert!(IpBlock::parse("10.0.0.0/33", &[]).is_err());
        assert!(IpBlock::parse("not-a-cidr", &[]).is_err());
        assert!(IpBlock::parse("10.0.0.0/16", &["10.1.0.0/24".into()]).is_err());
        assert!(IpBlock::parse("10.0.0.0/16", &["10.0.0.0/16".into()]).is_err());
        assert!(IpBlock::parse("10.0.0.0/16", &["fd00::/64".into()]).is_err());
        assert!(IpBlock::parse("fd00::/48", &["fd00::/64".into()]).is_ok());
    }

    #[test]
    fn v6_blocks_and_full_family() {
        let b = IpBlock::parse("::/0", &[]).unwrap();
        assert!(b.addrs.covers_family(Family::V6));
        assert!(!b.addrs.covers_family(Family::V4));
        assert!(b.addrs.contains(&ip("2001:db8::1")));
        let h = IpBlock::parse("10.1.2.3/24", &[]).unwrap();
        assert_eq!(h.cidr.to_string(), "10.1.2.0/24");
    }
}
