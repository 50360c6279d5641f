//! Revoked access stops working: after a change, every tracked connection of a local pod
//! that the new policies deny is deleted, so its next packet meets the ruleset again.
//! Connections that are still allowed are left alone (no Service connection is reset
//! for nothing).

use netfence_analyzer::{reach, Flow, Party};
use netfence_model::{Family, Model, Protocol};
use std::collections::HashSet;
use std::net::IpAddr;
use std::process::Command;

/// One tracked connection: the original tuple, and where the reply comes from (the
/// real server after DNAT).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Connection {
    pub protocol: Protocol,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub reply_src: IpAddr,
    pub reply_sport: u16,
}

/// Parses `conntrack -L` lines (tcp, udp and sctp; others are ignored).
pub fn parse(listing: &str) -> Vec<Connection> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let mut words = line.split_whitespace();
        let protocol = match words.next() {
            Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some("sctp") => Protocol::Sctp,
            _ => continue,
        };
        let mut src = Vec::new();
        let mut dst = Vec::new();
        let mut sport = Vec::new();
        let mut dport = Vec::new();
        for w in line.split_whitespace() {
            if let Some((k, v)) = w.split_once('=') {
                match k {
                    "src" => src.extend(v.parse::<IpAddr>().ok()),
                    "dst" => dst.extend(v.parse::<IpAddr>().ok()),
                    "sport" => sport.extend(v.parse::<u16>().ok()),
                    "dport" => dport.extend(v.parse::<u16>().ok()),
                    _ => {}
                }
            }
        }
        if src.len() == 2 && dst.len() == 2 && sport.len() == 2 && dport.len() == 2 {
            out.push(Connection {
                protocol,
                src: src[0],
                dst: dst[0],
                sport: sport[0],
                dport: dport[0],
                reply_src: src[1],
                reply_sport: sport[1],
            });
        }
    }
    out
}

fn party(model: &Model, addr: IpAddr) -> Party {
    match model.cluster.endpoint_by_addr(&addr) {
        Some(e) => Party::Endpoint(e),
        None => Party::External(addr.into()),
    }
}

/// The connections of local pods that `model` denies.
pub fn revoked(model: &Model, local: &HashSet<IpAddr>, conns: &[Connection]) -> Vec<Connection> {
    conns
        .iter()
        .filter(|c| local.contains(&c.src) || local.contains(&c.reply_src))
        .filter(|c| {
            // Policies see the server after DNAT: the reply's source.
            let flow = Flow {
                from: party(model, c.src),
                to: party(model, c.reply_src),
                protocol: Some(c.protocol),
                port: Some(c.reply_sport),
                family: Some(Family::of(&c.src)),
            };
            !reach(model, flow).allowed
        })
        .cloned()
        .collect()
}

/// Runs `conntrack`, optionally inside a network namespace.
pub struct Conntrack {
    pub netns: Option<String>,
}

impl Conntrack {
    fn command(&self) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "conntrack"]);
                c
            }
            None => Command::new("conntrack"),
        }
    }

    pub fn list(&self) -> anyhow::Result<Vec<Connection>> {
        let mut all = Vec::new();
        for family in ["ipv4", "ipv6"] {
            let out = self.command().args(["-L", "-f", family]).output()?;
            if !out.status.success() {
                anyhow::bail!(
                    "conntrack -L: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            all.extend(parse(&String::from_utf8_lossy(&out.stdout)));
        }
        Ok(all)
    }

    pub fn delete(&self, c: &Connection) -> anyhow::Result<()> {
        let proto = match c.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        let out = self
            .command()
            .args([
                "-D",
                "-p",
                proto,
                "-s",
                &c.src.to_string(),
                "-d",
                &c.dst.to_string(),
                "--sport",
                &c.sport.to_string(),
                "--dport",
                &c.dport.to_string(),
            ])
            .output()?;
        // Exit 1 with "0 flow entries" means it is gone already: fine.
        if !out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("0 flow entries")
        {
            anyhow::bail!(
                "conntrack -D: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_original_and_reply_tuples() {
        let text = "tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.96.0.10 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=8080 dport=40000 [ASSURED] mark=0 use=1\nudp      17 29 src=fd00::1 dst=fd00::2 sport=5000 dport=53 [UNREPLIED] src=fd00::2 dst=fd00::1 sport=53 dport=5000 mark=0 use=1\nicmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=1 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=1 mark=0 use=1\n";
        let c = parse(text);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].reply_src.to_string(), "10.0.0.2");
        assert_eq!(c[0].reply_sport, 8080);
        assert_eq!(c[0].dport, 80);
        assert_eq!(c[1].protocol, Protocol::Udp);
    }

    #[test]
    fn only_denied_connections_of_local_pods_are_revoked() {
        let model = netfence_model::compile_text(
            "t.yaml",
            "kind: Pod\napiVersion: v1\nmetadata: {name: a, namespace: n, labels: {app: a}}\nstatus: {podIP: 10.0.0.1}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: b, namespace: n, labels: {app: b}}\nstatus: {podIP: 10.0.0.2}\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: b, namespace: n}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress: [{ports: [{port: 8080}]}]\n",
            "default",
        )
        .unwrap();
        let conns = parse("tcp 6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1\ntcp 6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=2 dport=8080 src=10.0.0.2 dst=10.0.0.1 sport=8080 dport=2\n");
        let local: HashSet<IpAddr> = ["10.0.0.2".parse().unwrap()].into_iter().collect();
        let r = revoked(&model, &local, &conns);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].dport, 80);
        assert!(revoked(&model, &HashSet::new(), &conns).is_empty());
    }
}
