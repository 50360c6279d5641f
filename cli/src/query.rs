//! Parsing of ports, protocols and families given on the command line.

use anyhow::{anyhow, Result};
use netfence_analyzer::MatrixPort;
use netfence_model::ports::PortRef;
use netfence_model::{Family, Protocol};

use crate::args::FamilyArg;

/// TCP, UDP, SCTP in any case.
pub fn protocol(s: &str) -> Result<Protocol> {
    s.to_ascii_uppercase()
        .parse()
        .map_err(|e: String| anyhow!(e))
}

/// A port number (1-65535) or a port name.
pub fn port_ref(s: &str) -> Result<PortRef> {
    match s.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(PortRef::Number(n as u16)),
        Ok(n) => Err(anyhow!("port {n} is out of range 1-65535")),
        Err(_) => {
            netfence_model::ports::validate_port_name(s).map_err(|e| anyhow!(e))?;
            Ok(PortRef::Name(s.to_string()))
        }
    }
}

/// `80`, `80/TCP`, `http`, `http/udp`.
pub fn matrix_port(s: &str) -> Result<MatrixPort> {
    let (port, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, protocol(proto)?),
        None => (s, Protocol::Tcp),
    };
    Ok(MatrixPort {
        port: port_ref(port).map_err(|e| anyhow!("--port {s}: {e}"))?,
        protocol: proto,
    })
}

pub fn family(f: Option<FamilyArg>) -> Option<Family> {
    f.map(|f| match f {
        FamilyArg::Ipv4 => Family::V4,
        FamilyArg::Ipv6 => Family::V6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_matrix_ports() {
        let p = matrix_port("53/udp").unwrap();
        assert_eq!(p.port, PortRef::Number(53));
        assert_eq!(p.protocol, Protocol::Udp);
        assert_eq!(
            matrix_port("http").unwrap().port,
            PortRef::Name("http".into())
        );
        assert!(matrix_port("0").is_err());
        assert!(matrix_port("80/ICMP").is_err());
        assert!(matrix_port("Bad_Name").is_err());
    }
}
