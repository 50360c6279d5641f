//! ctnetlink: the conntrack table over netlink (no `conntrack` program, no
//! libnetfilter_conntrack).
//!
//! - list: one `IPCTNL_MSG_CT_GET` request with `NLM_F_DUMP` per address family (the
//!   kernel filters the dump by `nfgen_family`), read until `NLMSG_DONE`; each entry is
//!   handed to a callback as it is parsed, so a big table is never held in memory;
//! - delete: `IPCTNL_MSG_CT_DELETE` by original tuple (and zone), many messages in one
//!   `sendto`, each acked (`NETLINK_CAP_ACK` keeps acks small); `ENOENT` means the
//!   entry is gone already;
//! - insert: `IPCTNL_MSG_CT_NEW`, for tests and benches that need many entries.
//!
//! The socket and the framing are those of `crate::nflog::nfnetlink` (netlink-sys,
//! netlink-packet-core), the CT messages and attributes netlink-packet-netfilter's
//! `conntrack` types. Two values are not in that crate (nor in `libc`) and are declared
//! here from the uapi headers: `CTA_ZONE`, sent and read as a generic attribute, and
//! `TCP_CONNTRACK_ESTABLISHED`.

use super::Connection;
use crate::nfnetlink::{self, annotate};
use netfence_model::Protocol;
use netlink_packet_core::{
    DefaultNla, NetlinkPayload, Nla, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple,
    Protocol as CtProtocol, Status, Tuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// `CTA_ZONE` (be16), which netlink-packet-netfilter 0.4 does not name.
const CTA_ZONE: u16 = 18;
/// `TCP_CONNTRACK_ESTABLISHED` of `enum tcp_conntrack` (linux/netfilter/nf_conntrack_tcp.h).
const TCP_CONNTRACK_ESTABLISHED: u8 = 3;

/// A tracked connection as the kernel names it: [`Connection`] plus its zone.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub conn: Connection,
    pub zone: u16,
}

/// A ctnetlink socket of the network namespace it was opened in.
pub struct CtSocket {
    sock: nfnetlink::Socket,
    seq: u32,
}

impl CtSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<CtSocket> {
        let sock = nfnetlink::Socket::open(1 << 18).map_err(|e| annotate(e, "ctnetlink socket"))?;
        // Acks without the request echoed: a batch of acks stays small.
        sock.set_cap_ack()?;
        let _ = sock.set_recv_buffer(4 << 20);
        sock.set_timeout(Some(Duration::from_secs(10)))?;
        Ok(CtSocket { sock, seq: 0 })
    }

    /// Opens a socket in `/run/netns/<netns>` (a socket stays in the namespace it was
    /// created in, so only a short-lived thread needs to enter it).
    pub fn open_in(netns: Option<&str>) -> io::Result<CtSocket> {
        let Some(ns) = netns else {
            return CtSocket::open();
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    netfence_nft::thread_netns::enter(ns)?;
                    CtSocket::open()
                })
                .join()
                .map_err(|_| io::Error::other("the netns thread panicked"))?
        })
    }

    fn send(&self, msgs: &[u8]) -> io::Result<()> {
        self.sock
            .send(msgs)
            .map_err(|e| annotate(e, "ctnetlink sendto"))
    }

    /// One datagram from the kernel.
    fn recv(&mut self) -> io::Result<nfnetlink::Datagram> {
        loop {
            match self.sock.recv() {
                Ok(Some(d)) => return Ok(d),
                Ok(None) => continue,
                Err(e) => return Err(annotate(e, "ctnetlink recv")),
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Every tcp/udp/sctp entry of both families, handed to `each` as it is parsed.
    pub fn dump(&mut self, mut each: impl FnMut(Entry)) -> io::Result<()> {
        for family in [NetfilterProtoFamily::IPv4, NetfilterProtoFamily::IPv6] {
            let seq = self.next_seq();
            let mut msg = Vec::with_capacity(32);
            push(
                &mut msg,
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                family,
                ConntrackMessage::Get(vec![]),
            );
            self.send(&msg)?;
            'dump: loop {
                let d = self.recv()?;
                for m in nfnetlink::messages(self.sock.received(d)) {
                    let Ok(m) = m else { break };
                    if m.header.sequence_number != seq {
                        continue;
                    }
                    match m.payload {
                        Ok(NetlinkPayload::Done(_)) => break 'dump,
                        Ok(NetlinkPayload::Error(e)) => {
                            if e.code.is_some() {
                                return Err(annotate(e.to_io(), "conntrack dump"));
                            }
                            break 'dump;
                        }
                        // An NLMSG_ERROR too short for its code.
                        Err(_) if m.header.message_type == NLMSG_ERROR => {
                            return Err(annotate(
                                io::Error::from_raw_os_error(libc::EPROTO),
                                "conntrack dump",
                            ));
                        }
                        Ok(NetlinkPayload::InnerMessage(msg)) => {
                            if let Some(e) = parse_entry(&msg) {
                                // Old kernels ignore the family filter: skip the rest.
                                if family == family_of(&e.conn.src) {
                                    each(e);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Deletes `entries` in one batch; returns how many the kernel deleted (entries
    /// already gone are not errors).
    pub fn delete(&mut self, entries: &[Entry]) -> io::Result<usize> {
        let mut msgs = Vec::with_capacity(entries.len() * 96);
        let first = self.seq.wrapping_add(1);
        for e in entries {
            let seq = self.next_seq();
            let mut attrs = vec![ConntrackAttribute::CtaTupleOrig(tuple(&e.conn))];
            if e.zone != 0 {
                attrs.push(zone(e.zone));
            }
            push(
                &mut msgs,
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                family_of(&e.conn.src),
                ConntrackMessage::Delete(attrs),
            );
        }
        self.exchange(&msgs, first, entries.len(), "conntrack delete")
    }

    /// Creates `entries` (established, for `timeout`): for tests and benches.
    pub fn insert(&mut self, entries: &[Entry], timeout: Duration) -> io::Result<usize> {
        let mut msgs = Vec::with_capacity(entries.len() * 160);
        let first = self.seq.wrapping_add(1);
        for e in entries {
            let seq = self.next_seq();
            let c = &e.conn;
            let reply = Connection {
                protocol: c.protocol,
                src: c.reply_src,
                dst: c.src,
                sport: c.reply_sport,
                dport: c.sport,
                reply_src: c.src,
                reply_sport: c.sport,
            };
            let mut attrs = vec![
                ConntrackAttribute::CtaTupleOrig(tuple(c)),
                ConntrackAttribute::CtaTupleReply(tuple(&reply)),
                ConntrackAttribute::CtaStatus(
                    Status::Confirmed | Status::SeenReply | Status::Assured,
                ),
                ConntrackAttribute::CtaTimeout((timeout.as_secs() as u32).max(1)),
            ];
            if c.protocol == Protocol::Tcp {
                attrs.push(ConntrackAttribute::CtaProtoInfo(vec![ProtoInfo::TCP(
                    vec![ProtoInfoTCP::State(TCP_CONNTRACK_ESTABLISHED)],
                )]));
            }
            if e.zone != 0 {
                attrs.push(zone(e.zone));
            }
            push(
                &mut msgs,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                seq,
                family_of(&c.src),
                ConntrackMessage::New(attrs),
            );
        }
        self.exchange(&msgs, first, entries.len(), "conntrack insert")
    }

    /// Sends a batch of acked requests (sequence numbers `first..first+count`) and reads
    /// every ack; returns how many succeeded. ENOENT/EEXIST count as neither success nor
    /// error; any other error is returned after all acks are read.
    fn exchange(&mut self, msgs: &[u8], first: u32, count: usize, what: &str) -> io::Result<usize> {
        if count == 0 {
            return Ok(0);
        }
        self.send(msgs)?;
        let (mut acked, mut ok, mut failure) = (0, 0, None);
        while acked < count {
            let d = self.recv()?;
            for m in nfnetlink::messages(self.sock.received(d)) {
                let Ok(m) = m else { break };
                if m.header.sequence_number.wrapping_sub(first) as usize >= count {
                    continue;
                }
                let code = match m.payload {
                    Ok(NetlinkPayload::Error(e)) => -e.raw_code(),
                    // An NLMSG_ERROR too short for its code.
                    Err(_) if m.header.message_type == NLMSG_ERROR => libc::EPROTO,
                    _ => continue,
                };
                acked += 1;
                match code {
                    0 => ok += 1,
                    libc::ENOENT | libc::EEXIST => {}
                    code => failure = Some(io::Error::from_raw_os_error(code)),
                }
            }
        }
        match failure {
            Some(e) => Err(annotate(e, what)),
            None => Ok(ok),
        }
    }
}

/// Appends one CT request for `family` to `out`.
fn push(
    out: &mut Vec<u8>,
    flags: u16,
    seq: u32,
    family: NetfilterProtoFamily,
    msg: ConntrackMessage,
) {
    nfnetlink::push_request(
        out,
        flags,
        seq,
        NetfilterMessage::new(NetfilterHeader::new(family, 0, 0), msg),
    );
}

fn family_of(a: &IpAddr) -> NetfilterProtoFamily {
    match a {
        IpAddr::V4(_) => NetfilterProtoFamily::IPv4,
        IpAddr::V6(_) => NetfilterProtoFamily::IPv6,
    }
}

fn zone(zone: u16) -> ConntrackAttribute {
    ConntrackAttribute::Other(DefaultNla::new(CTA_ZONE, zone.to_be_bytes().to_vec()))
}

fn proto_num(p: Protocol) -> CtProtocol {
    match p {
        Protocol::Tcp => CtProtocol::Tcp,
        Protocol::Udp => CtProtocol::Udp,
        Protocol::Sctp => CtProtocol::Sctp,
    }
}

/// CTA_TUPLE_IP + CTA_TUPLE_PROTO of the connection's original direction. Both
/// addresses are of one family: IPv4 unless either is IPv6 (then IPv4-mapped).
fn tuple(c: &Connection) -> Vec<Tuple> {
    let (src, dst) = match (c.src, c.dst) {
        (s @ IpAddr::V4(_), d @ IpAddr::V4(_)) => (s, d),
        (s, d) => (IpAddr::V6(v6(s)), IpAddr::V6(v6(d))),
    };
    vec![
        Tuple::Ip(vec![
            IPTuple::SourceAddress(src),
            IPTuple::DestinationAddress(dst),
        ]),
        Tuple::Proto(vec![
            ProtoTuple::Protocol(proto_num(c.protocol)),
            ProtoTuple::SourcePort(c.sport),
            ProtoTuple::DestinationPort(c.dport),
        ]),
    ]
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

struct Parsed {
    src: IpAddr,
    dst: IpAddr,
    proto: CtProtocol,
    sport: u16,
    dport: u16,
}

fn parse_tuple(tuple: &[Tuple]) -> Option<Parsed> {
    let (mut src, mut dst, mut proto, mut sport, mut dport) = (None, None, None, None, None);
    for t in tuple {
        match t {
            Tuple::Ip(ip) => {
                for a in ip {
                    match a {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(p) => {
                for a in p {
                    match a {
                        ProtoTuple::Protocol(p) => proto = Some(*p),
                        ProtoTuple::SourcePort(p) => sport = Some(*p),
                        ProtoTuple::DestinationPort(p) => dport = Some(*p),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(Parsed {
        src: src?,
        dst: dst?,
        proto: proto?,
        sport: sport?,
        dport: dport?,
    })
}

/// The value of a `CTA_ZONE` attribute.
fn parse_zone(nla: &DefaultNla) -> Option<u16> {
    if nla.kind() != CTA_ZONE || nla.value_len() != 2 {
        return None;
    }
    let mut be = [0; 2];
    nla.emit_value(&mut be);
    Some(u16::from_be_bytes(be))
}

/// One CT message of a dump; None for other protocols (icmp...) and other messages.
fn parse_entry(msg: &NetfilterMessage) -> Option<Entry> {
    let NetfilterMessageInner::Conntrack(
        ConntrackMessage::New(attrs)
        | ConntrackMessage::Get(attrs)
        | ConntrackMessage::Delete(attrs),
    ) = &msg.inner
    else {
        return None;
    };
    let (mut orig, mut reply, mut zone) = (None, None, 0);
    for a in attrs {
        match a {
            ConntrackAttribute::CtaTupleOrig(t) => orig = parse_tuple(t),
            ConntrackAttribute::CtaTupleReply(t) => reply = parse_tuple(t),
            ConntrackAttribute::Other(nla) => zone = parse_zone(nla).unwrap_or(zone),
            _ => {}
        }
    }
    let (orig, reply) = (orig?, reply?);
    let protocol = match orig.proto {
        CtProtocol::Tcp => Protocol::Tcp,
        CtProtocol::Udp => Protocol::Udp,
        CtProtocol::Sctp => Protocol::Sctp,
        _ => return None,
    };
    Some(Entry {
        conn: Connection {
            protocol,
            src: orig.src,
            dst: orig.dst,
            sport: orig.sport,
            dport: orig.dport,
            reply_src: reply.src,
            reply_sport: reply.sport,
        },
        zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        Connection {
            protocol: Protocol::Udp,
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            sport: 5000,
            dport: 53,
            reply_src: "fd00::3".parse().unwrap(),
            reply_sport: 5353,
        }
    }

    /// The entries of a datagram, read the way [`CtSocket::dump`] reads them.
    fn entries(buf: &[u8]) -> Vec<Entry> {
        nfnetlink::messages(buf)
            .filter_map(|m| match m.ok()?.payload {
                Ok(NetlinkPayload::InnerMessage(msg)) => parse_entry(&msg),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_encoded_entry_parses_back() {
        let c = conn();
        let reply = Connection {
            src: c.reply_src,
            dst: c.src,
            sport: c.reply_sport,
            dport: c.sport,
            ..c.clone()
        };
        let mut buf = Vec::new();
        push(
            &mut buf,
            0,
            1,
            NetfilterProtoFamily::IPv6,
            ConntrackMessage::New(vec![
                ConntrackAttribute::CtaTupleOrig(tuple(&c)),
                ConntrackAttribute::CtaTupleReply(tuple(&reply)),
                ConntrackAttribute::CtaTimeout(30),
                zone(7),
            ]),
        );
        // An ICMP entry in the same datagram is skipped.
        let icmp = Connection {
            protocol: Protocol::Tcp,
            ..c.clone()
        };
        let mut t = tuple(&icmp);
        t[1] = Tuple::Proto(vec![ProtoTuple::Protocol(CtProtocol::Ipv6Icmp)]);
        push(
            &mut buf,
            0,
            1,
            NetfilterProtoFamily::IPv6,
            ConntrackMessage::New(vec![
                ConntrackAttribute::CtaTupleOrig(t.clone()),
                ConntrackAttribute::CtaTupleReply(t),
            ]),
        );
        assert_eq!(entries(&buf), vec![Entry { conn: c, zone: 7 }]);
    }

    #[test]
    fn a_delete_request_is_laid_out_like_the_kernel_expects() {
        let c = Connection {
            protocol: Protocol::Tcp,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            sport: 1000,
            dport: 80,
            reply_src: "10.0.0.2".parse().unwrap(),
            reply_sport: 80,
        };
        let mut m = Vec::new();
        push(
            &mut m,
            NLM_F_REQUEST | NLM_F_ACK,
            5,
            NetfilterProtoFamily::IPv4,
            ConntrackMessage::Delete(vec![ConntrackAttribute::CtaTupleOrig(tuple(&c)), zone(3)]),
        );
        let ne16 = |at: usize| u16::from_ne_bytes([m[at], m[at + 1]]);
        // NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE, REQUEST | ACK.
        assert_eq!((ne16(4), ne16(6)), (0x0102, 0x05));
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 0, 0, 0]);
        // CTA_TUPLE_ORIG, nested: CTA_TUPLE_IP (two 8-byte addresses), CTA_TUPLE_PROTO
        // (number, two be16 ports).
        assert_eq!((ne16(20), ne16(22)), (4 + 20 + 28, 1 | 0x8000));
        assert_eq!((ne16(24), ne16(26)), (20, 1 | 0x8000));
        assert_eq!(&m[28..36], &[8, 0, 1, 0, 10, 0, 0, 1]);
        assert_eq!((ne16(44), ne16(46)), (28, 2 | 0x8000));
        assert_eq!(&m[48..53], &[5, 0, 1, 0, 6]);
        assert_eq!(&m[56..62], &[6, 0, 2, 0, 0x03, 0xe8]);
        assert_eq!(&m[64..70], &[6, 0, 3, 0, 0, 80]);
        // CTA_ZONE, be16.
        assert_eq!(&m[72..78], &[6, 0, 18, 0, 0, 3]);
        assert_eq!(m.len(), 80);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 80);
    }

    #[test]
    fn mixed_families_are_sent_as_ipv6() {
        let mut c = conn();
        c.src = "10.0.0.1".parse().unwrap();
        let t = tuple(&c);
        assert_eq!(
            t[0],
            Tuple::Ip(vec![
                IPTuple::SourceAddress("::ffff:10.0.0.1".parse().unwrap()),
                IPTuple::DestinationAddress("fd00::2".parse().unwrap()),
            ])
        );
    }
}
