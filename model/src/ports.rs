//! Protocols and port sets (per protocol, as interval sets).

use crate::intervals::Intervals;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;
    /// Case-sensitive, as the API server validates it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            _ => Err(format!(
                "unsupported protocol {s:?}: must be one of TCP, UDP, SCTP"
            )),
        }
    }
}

/// An inclusive port range of one protocol.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PortRange {
    pub protocol: Protocol,
    pub start: u16,
    pub end: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == 0 && self.end == u16::MAX {
            write!(f, "all {} ports", self.protocol)
        } else if self.start == self.end {
            write!(f, "{}/{}", self.start, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.start, self.end, self.protocol)
        }
    }
}

/// A set of ports across the three protocols.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct PortSet {
    by_protocol: [Intervals<u16>; 3],
}

impl PortSet {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn all() -> Self {
        PortSet {
            by_protocol: [Intervals::full(), Intervals::full(), Intervals::full()],
        }
    }

    pub fn all_of(protocol: Protocol) -> Self {
        let mut s = Self::empty();
        s.by_protocol[protocol.index()] = Intervals::full();
        s
    }

    pub fn single(protocol: Protocol, port: u16) -> Self {
        Self::range(protocol, port, port)
    }

    pub fn range(protocol: Protocol, start: u16, end: u16) -> Self {
        let mut s = Self::empty();
        s.by_protocol[protocol.index()] = Intervals::range(start, end);
        s
    }

    pub fn protocol(&self, protocol: Protocol) -> &Intervals<u16> {
        &self.by_protocol[protocol.index()]
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.by_protocol[protocol.index()].contains(port)
    }

    pub fn is_empty(&self) -> bool {
        self.by_protocol.iter().all(Intervals::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.by_protocol.iter().all(Intervals::is_full)
    }

    pub fn add(&mut self, other: &PortSet) {
        for (a, b) in self.by_protocol.iter_mut().zip(&other.by_protocol) {
            if !b.is_empty() {
                *a = a.union(b);
            }
        }
    }

    pub fn add_range(&mut self, protocol: Protocol, start: u16, end: u16) {
        self.by_protocol[protocol.index()].insert_range(start, end);
    }

    pub fn intersection(&self, other: &PortSet) -> PortSet {
        PortSet {
            by_protocol: std::array::from_fn(|i| {
                self.by_protocol[i].intersection(&other.by_protocol[i])
            }),
        }
    }

    pub fn difference(&self, other: &PortSet) -> PortSet {
        PortSet {
            by_protocol: std::array::from_fn(|i| {
                self.by_protocol[i].difference(&other.by_protocol[i])
            }),
        }
    }

    pub fn is_subset(&self, other: &PortSet) -> bool {
        (0..3).all(|i| self.by_protocol[i].is_subset(&other.by_protocol[i]))
    }

    /// The ranges, protocol by protocol, in a stable order.
    pub fn ranges(&self) -> Vec<PortRange> {
        Protocol::ALL
            .iter()
            .flat_map(|&p| {
                self.by_protocol[p.index()]
                    .ranges()
                    .iter()
                    .map(move |&(start, end)| PortRange {
                        protocol: p,
                        start,
                        end,
                    })
            })
            .collect()
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all ports");
        }
        if self.is_empty() {
            return f.write_str("no ports");
        }
        let parts: Vec<String> = self.ranges().iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

/// A port named by the query or by a Service: a number, or a container port name to be
/// resolved on the destination.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

/// Validates a container port name as the API server does (IANA_SVC_NAME): at most 15
/// characters of lowercase letters, digits and '-', at least one letter, no leading,
/// trailing or doubled '-'.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid port name {name:?}: must be 1-15 lowercase letters, digits or '-', \
             with at least one letter (IANA_SVC_NAME)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_are_case_sensitive() {
        assert_eq!("SCTP".parse::<Protocol>(), Ok(Protocol::Sctp));
        assert!("tcp".parse::<Protocol>().is_err());
        assert!("ICMP".parse::<Protocol>().is_err());
    }

    #[test]
    fn port_sets_are_per_protocol() {
        let mut s = PortSet::range(Protocol::Tcp, 80, 90);
        s.add(&PortSet::single(Protocol::Udp, 53));
        assert!(s.contains(Protocol::Tcp, 85));
        assert!(!s.contains(Protocol::Udp, 85));
        assert!(s.contains(Protocol::Udp, 53));
        assert!(!s.contains(Protocol::Sctp, 53));
        assert_eq!(s.to_string(), "80-90/TCP, 53/UDP");
        let i = s.intersection(&PortSet::all_of(Protocol::Tcp));
        assert_eq!(i.to_string(), "80-90/TCP");
    }

    #[test]
    fn port_names_follow_iana_svc_name() {
        assert!(validate_port_name("http").is_ok());
        assert!(validate_port_name("metrics-2").is_ok());
        assert!(validate_port_name("80").is_err());
        assert!(validate_port_name("HTTP").is_err());
        assert!(validate_port_name("a-very-long-port-name").is_err());
        assert!(validate_port_name("-x").is_err());
    }
}
