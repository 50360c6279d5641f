//! Revoked access stops working: after a change, every tracked connection of a local pod
//! that the new policies deny is deleted, so its next packet meets the ruleset again.
//! Connections that are still allowed are left alone (no Service connection is reset
//! for nothing).
//!
//! The decision ([`revoked`], [`is_revoked`]) is pure; [`netlink`] talks to the kernel's
//! conntrack table and [`revoke`] runs the cutting off the reconcile path.

pub mod netlink;
pub mod revoke;

pub use revoke::{Limits, Revoker};

use netfence_analyzer::{reach, Flow, Party};
use netfence_model::{Family, Model, Protocol};
use std::collections::HashSet;
use std::net::IpAddr;

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

/// Whether `model` denies `c`, a connection of a pod in `local` (others are not ours
/// to judge and never revoked).
pub fn is_revoked(model: &Model, local: &HashSet<IpAddr>, c: &Connection) -> bool {
    if !local.contains(&c.src) && !local.contains(&c.reply_src) {
        return false;
    }
    // Policies see the server after DNAT: the reply's source.
    let flow = Flow {
        from: Party::of_addr(&model.cluster, c.src),
        to: Party::of_addr(&model.cluster, c.reply_src),
        protocol: Some(c.protocol),
        port: Some(c.reply_sport),
        family: Some(Family::of(&c.src)),
    };
    !reach(model, flow).allowed
}

/// The connections of local pods that `model` denies.
pub fn revoked(model: &Model, local: &HashSet<IpAddr>, conns: &[Connection]) -> Vec<Connection> {
    conns
        .iter()
        .filter(|c| is_revoked(model, local, c))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: &str, sport: u16, dst: &str, dport: u16) -> Connection {
        Connection {
            protocol: Protocol::Tcp,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            reply_src: dst.parse().unwrap(),
            reply_sport: dport,
        }
    }

    #[test]
    fn only_denied_connections_of_local_pods_are_revoked() {
        let model = netfence_model::compile_text(
            "t.yaml",
            "kind: Pod\napiVersion: v1\nmetadata: {name: a, namespace: shop, labels: {app: a}}\nstatus: {podIP: 10.0.0.1}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: b, namespace: shop, labels: {app: b}}\nstatus: {podIP: 10.0.0.2}\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: b, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress: [{ports: [{port: 8080}]}]\n",
            "default",
        )
        .unwrap();
        let conns = [
            tcp("10.0.0.1", 1, "10.0.0.2", 80),
            tcp("10.0.0.1", 2, "10.0.0.2", 8080),
        ];
        let local: HashSet<IpAddr> = ["10.0.0.2".parse().unwrap()].into_iter().collect();
        let r = revoked(&model, &local, &conns);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].dport, 80);
        assert!(revoked(&model, &HashSet::new(), &conns).is_empty());
    }

    #[test]
    fn the_server_after_dnat_decides() {
        // A Service address (outside every pod) DNATed to b:8080 is allowed; to b:80 not.
        let model = netfence_model::compile_text(
            "t.yaml",
            "kind: Pod\napiVersion: v1\nmetadata: {name: b, namespace: shop, labels: {app: b}}\nstatus: {podIP: 10.0.0.2}\n---\nkind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: b, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress: [{ports: [{port: 8080}]}]\n",
            "default",
        )
        .unwrap();
        let local: HashSet<IpAddr> = ["10.0.0.2".parse().unwrap()].into_iter().collect();
        let mut allowed = tcp("192.0.2.1", 1, "10.96.0.10", 80);
        allowed.reply_src = "10.0.0.2".parse().unwrap();
        allowed.reply_sport = 8080;
        let mut denied = allowed.clone();
        denied.reply_sport = 80;
        assert!(!is_revoked(&model, &local, &allowed));
        assert!(is_revoked(&model, &local, &denied));
    }
}
