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
//! No maintained crate speaks ctnetlink's CT messages (netlink-packet-netfilter 0.4 has
//! NFLOG and nf_tables only), so this is the minimal encoding, on raw libc like
//! `crate::nflog`. Values are those of `linux/netfilter/nfnetlink_conntrack.h`.

// Raw netlink means socket/bind/sendto/recv through libc, which is `unsafe`; this module
// is one of the places allowed to use it, every block with a SAFETY note.
#![allow(unsafe_code)]

use super::Connection;
use netfence_model::Protocol;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

mod uapi {
    pub const NETLINK_NETFILTER: i32 = 12;
    pub const NLM_F_REQUEST: u16 = 0x01;
    pub const NLM_F_ACK: u16 = 0x04;
    pub const NLM_F_CREATE: u16 = 0x400;
    pub const NLM_F_EXCL: u16 = 0x200;
    pub const NLM_F_DUMP: u16 = 0x300;
    pub const NLMSG_ERROR: u16 = 0x2;
    pub const NLMSG_DONE: u16 = 0x3;
    pub const NLMSG_HDRLEN: usize = 16;
    pub const NFGENMSG_LEN: usize = 4;
    pub const NLA_F_NESTED: u16 = 1 << 15;
    pub const NLA_TYPE_MASK: u16 = !((1 << 15) | (1 << 14));
    pub const NETLINK_CAP_ACK: i32 = 10;

    pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
    pub const IPCTNL_MSG_CT_NEW: u16 = 0;
    pub const IPCTNL_MSG_CT_GET: u16 = 1;
    pub const IPCTNL_MSG_CT_DELETE: u16 = 2;

    pub const CTA_TUPLE_ORIG: u16 = 1;
    pub const CTA_TUPLE_REPLY: u16 = 2;
    pub const CTA_STATUS: u16 = 3;
    pub const CTA_PROTOINFO: u16 = 4;
    pub const CTA_TIMEOUT: u16 = 7;
    pub const CTA_ZONE: u16 = 18;
    pub const CTA_TUPLE_IP: u16 = 1;
    pub const CTA_TUPLE_PROTO: u16 = 2;
    pub const CTA_IP_V4_SRC: u16 = 1;
    pub const CTA_IP_V4_DST: u16 = 2;
    pub const CTA_IP_V6_SRC: u16 = 3;
    pub const CTA_IP_V6_DST: u16 = 4;
    pub const CTA_PROTO_NUM: u16 = 1;
    pub const CTA_PROTO_SRC_PORT: u16 = 2;
    pub const CTA_PROTO_DST_PORT: u16 = 3;
    pub const CTA_PROTOINFO_TCP: u16 = 1;
    pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
    pub const TCP_CONNTRACK_ESTABLISHED: u8 = 3;
    /// IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED
    pub const STATUS_ESTABLISHED: u32 = 0x8 | 0x2 | 0x4;

    pub const AF_INET: u8 = 2;
    pub const AF_INET6: u8 = 10;
    pub const IPPROTO_TCP: u8 = 6;
    pub const IPPROTO_UDP: u8 = 17;
    pub const IPPROTO_SCTP: u8 = 132;
}
use uapi::*;

/// A tracked connection as the kernel names it: [`Connection`] plus its zone.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    pub conn: Connection,
    pub zone: u16,
}

/// A ctnetlink socket of the network namespace it was opened in.
pub struct CtSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl CtSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<CtSocket> {
        // SAFETY: socket(2) with constant arguments; it returns a descriptor or -1.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if raw < 0 {
            return Err(annotate(io::Error::last_os_error(), "ctnetlink socket"));
        }
        // SAFETY: `raw` was just returned by socket(2) and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = CtSocket {
            fd,
            seq: 0,
            buf: vec![0; 1 << 18],
        };
        // Acks without the request echoed: a batch of acks stays small.
        s.setsockopt(libc::SOL_NETLINK, NETLINK_CAP_ACK, 1)?;
        let _ = s.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 4 << 20);
        s.set_timeout(Duration::from_secs(10))?;
        Ok(s)
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

    fn setsockopt(&self, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
        // SAFETY: `v` is a live c_int and the length passed is its size.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&v as *const libc::c_int).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(annotate(io::Error::last_os_error(), "setsockopt"));
        }
        Ok(())
    }

    fn set_timeout(&self, d: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a live timeval and the length passed is its size.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast::<libc::c_void>(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(annotate(io::Error::last_os_error(), "SO_RCVTIMEO"));
        }
        Ok(())
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_nl with the family set is the kernel's address.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `msg` and `addr` are live for the call and the lengths are theirs.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast::<libc::c_void>(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(annotate(io::Error::last_os_error(), "ctnetlink sendto"));
        }
        Ok(())
    }

    /// One datagram into `self.buf`; returns its length.
    fn recv(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is live and writable for its whole length.
            let r = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast::<libc::c_void>(),
                    self.buf.len(),
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(annotate(e, "ctnetlink recv"));
            }
            return Ok(r as usize);
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Every tcp/udp/sctp entry of both families, handed to `each` as it is parsed.
    pub fn dump(&mut self, mut each: impl FnMut(Entry)) -> io::Result<()> {
        for family in [AF_INET, AF_INET6] {
            let seq = self.next_seq();
            let mut msg = Vec::with_capacity(32);
            header(
                &mut msg,
                IPCTNL_MSG_CT_GET,
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                family,
            );
            finish(&mut msg, 0);
            self.send(&msg)?;
            'dump: loop {
                let n = self.recv()?;
                for (kind, _, mseq, body) in messages(&self.buf[..n]) {
                    if mseq != seq {
                        continue;
                    }
                    match kind {
                        NLMSG_DONE => break 'dump,
                        NLMSG_ERROR => {
                            let code = error_code(body);
                            if code != 0 {
                                return Err(annotate(
                                    io::Error::from_raw_os_error(-code),
                                    "conntrack dump",
                                ));
                            }
                            break 'dump;
                        }
                        _ => {
                            if let Some(e) = parse_entry(body) {
                                // Old kernels ignore the family filter: skip the rest.
                                if matches!(
                                    (family, e.conn.src),
                                    (AF_INET, IpAddr::V4(_)) | (AF_INET6, IpAddr::V6(_))
                                ) {
                                    each(e);
                                }
                            }
                        }
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
            let start = msgs.len();
            header(
                &mut msgs,
                IPCTNL_MSG_CT_DELETE,
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                family_of(&e.conn.src),
            );
            let o = nest_start(&mut msgs, CTA_TUPLE_ORIG);
            tuple(&mut msgs, &e.conn);
            nest_end(&mut msgs, o);
            if e.zone != 0 {
                attr(&mut msgs, CTA_ZONE, &e.zone.to_be_bytes());
            }
            finish(&mut msgs, start);
        }
        self.exchange(&msgs, first, entries.len(), "conntrack delete")
    }

    /// Creates `entries` (established, for `timeout`): for tests and benches.
    pub fn insert(&mut self, entries: &[Entry], timeout: Duration) -> io::Result<usize> {
        let mut msgs = Vec::with_capacity(entries.len() * 160);
        let first = self.seq.wrapping_add(1);
        for e in entries {
            let seq = self.next_seq();
            let start = msgs.len();
            header(
                &mut msgs,
                IPCTNL_MSG_CT_NEW,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                seq,
                family_of(&e.conn.src),
            );
            let c = &e.conn;
            let o = nest_start(&mut msgs, CTA_TUPLE_ORIG);
            tuple(&mut msgs, c);
            nest_end(&mut msgs, o);
            let reply = Connection {
                protocol: c.protocol,
                src: c.reply_src,
                dst: c.src,
                sport: c.reply_sport,
                dport: c.sport,
                reply_src: c.src,
                reply_sport: c.sport,
            };
            let r = nest_start(&mut msgs, CTA_TUPLE_REPLY);
            tuple(&mut msgs, &reply);
            nest_end(&mut msgs, r);
            attr(&mut msgs, CTA_STATUS, &STATUS_ESTABLISHED.to_be_bytes());
            attr(
                &mut msgs,
                CTA_TIMEOUT,
                &(timeout.as_secs() as u32).max(1).to_be_bytes(),
            );
            if c.protocol == Protocol::Tcp {
                let p = nest_start(&mut msgs, CTA_PROTOINFO);
                let t = nest_start(&mut msgs, CTA_PROTOINFO_TCP);
                attr(
                    &mut msgs,
                    CTA_PROTOINFO_TCP_STATE,
                    &[TCP_CONNTRACK_ESTABLISHED],
                );
                nest_end(&mut msgs, t);
                nest_end(&mut msgs, p);
            }
            if e.zone != 0 {
                attr(&mut msgs, CTA_ZONE, &e.zone.to_be_bytes());
            }
            finish(&mut msgs, start);
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
            let n = self.recv()?;
            for (kind, _, seq, body) in messages(&self.buf[..n]) {
                if kind != NLMSG_ERROR || seq.wrapping_sub(first) as usize >= count {
                    continue;
                }
                acked += 1;
                match -error_code(body) {
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

fn family_of(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

fn header(out: &mut Vec<u8>, msg: u16, flags: u16, seq: u32, family: u8) {
    out.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
    out.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | msg).to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[family, 0, 0, 0]); // nfgenmsg: family, version 0, res_id 0
}

fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    pad(out);
}

fn nest_start(out: &mut Vec<u8>, kind: u16) -> usize {
    let at = out.len();
    out.extend_from_slice(&0u16.to_ne_bytes());
    out.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    at
}

fn nest_end(out: &mut [u8], at: usize) {
    let len = (out.len() - at) as u16;
    out[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

fn proto_num(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
        Protocol::Sctp => IPPROTO_SCTP,
    }
}

/// CTA_TUPLE_IP + CTA_TUPLE_PROTO of the connection's original direction.
fn tuple(out: &mut Vec<u8>, c: &Connection) {
    let ip = nest_start(out, CTA_TUPLE_IP);
    match (c.src, c.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            attr(out, CTA_IP_V4_SRC, &s.octets());
            attr(out, CTA_IP_V4_DST, &d.octets());
        }
        (s, d) => {
            attr(out, CTA_IP_V6_SRC, &v6(s).octets());
            attr(out, CTA_IP_V6_DST, &v6(d).octets());
        }
    }
    nest_end(out, ip);
    let p = nest_start(out, CTA_TUPLE_PROTO);
    attr(out, CTA_PROTO_NUM, &[proto_num(c.protocol)]);
    attr(out, CTA_PROTO_SRC_PORT, &c.sport.to_be_bytes());
    attr(out, CTA_PROTO_DST_PORT, &c.dport.to_be_bytes());
    nest_end(out, p);
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// The netlink messages of one datagram: (type, flags, seq, payload).
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, u16, u32, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + NLMSG_HDRLEN > buf.len() {
            return None;
        }
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return None;
        }
        let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().ok()?);
        let flags = u16::from_ne_bytes(buf[at + 6..at + 8].try_into().ok()?);
        let seq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().ok()?);
        let body = &buf[at + NLMSG_HDRLEN..at + len];
        at += (len + 3) & !3;
        Some((kind, flags, seq, body))
    })
}

/// The (negative) errno of an NLMSG_ERROR payload; 0 is an ack.
fn error_code(body: &[u8]) -> i32 {
    body.get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(-libc::EPROTO, i32::from_ne_bytes)
}

/// The attributes in `buf`: (type without flags, payload).
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + 4 > buf.len() {
            return None;
        }
        let len = u16::from_ne_bytes([buf[at], buf[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]) & NLA_TYPE_MASK;
        if len < 4 || at + len > buf.len() {
            return None;
        }
        let data = &buf[at + 4..at + len];
        at += (len + 3) & !3;
        Some((kind, data))
    })
}

struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
}

fn parse_tuple(buf: &[u8]) -> Option<Tuple> {
    let (mut src, mut dst, mut proto, mut sport, mut dport) = (None, None, None, None, None);
    for (kind, data) in attrs(buf) {
        match kind {
            CTA_TUPLE_IP => {
                for (k, d) in attrs(data) {
                    match k {
                        CTA_IP_V4_SRC => src = ip4(d),
                        CTA_IP_V4_DST => dst = ip4(d),
                        CTA_IP_V6_SRC => src = ip6(d),
                        CTA_IP_V6_DST => dst = ip6(d),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (k, d) in attrs(data) {
                    match k {
                        CTA_PROTO_NUM => proto = d.first().copied(),
                        CTA_PROTO_SRC_PORT => sport = be16(d),
                        CTA_PROTO_DST_PORT => dport = be16(d),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(Tuple {
        src: src?,
        dst: dst?,
        proto: proto?,
        sport: sport?,
        dport: dport?,
    })
}

fn ip4(d: &[u8]) -> Option<IpAddr> {
    let b: [u8; 4] = d.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(b)))
}

fn ip6(d: &[u8]) -> Option<IpAddr> {
    let b: [u8; 16] = d.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

fn be16(d: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(d.try_into().ok()?))
}

/// One CT message (after the nfgenmsg header); None for other protocols (icmp...).
fn parse_entry(body: &[u8]) -> Option<Entry> {
    let attrs_buf = body.get(NFGENMSG_LEN..)?;
    let (mut orig, mut reply, mut zone) = (None, None, 0);
    for (kind, data) in attrs(attrs_buf) {
        match kind {
            CTA_TUPLE_ORIG => orig = parse_tuple(data),
            CTA_TUPLE_REPLY => reply = parse_tuple(data),
            CTA_ZONE => zone = be16(data).unwrap_or(0),
            _ => {}
        }
    }
    let (orig, reply) = (orig?, reply?);
    let protocol = match orig.proto {
        IPPROTO_TCP => Protocol::Tcp,
        IPPROTO_UDP => Protocol::Udp,
        IPPROTO_SCTP => Protocol::Sctp,
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

    #[test]
    fn constants_match_libc() {
        assert_eq!(NETLINK_NETFILTER, libc::NETLINK_NETFILTER);
        assert_eq!(NETLINK_CAP_ACK, libc::NETLINK_CAP_ACK);
        assert_eq!(AF_INET as i32, libc::AF_INET);
        assert_eq!(AF_INET6 as i32, libc::AF_INET6);
        assert_eq!(NLM_F_DUMP as i32, libc::NLM_F_DUMP);
        assert_eq!(NLM_F_ACK as i32, libc::NLM_F_ACK);
        assert_eq!(NLMSG_ERROR as i32, libc::NLMSG_ERROR);
        assert_eq!(NLMSG_DONE as i32, libc::NLMSG_DONE);
    }

    #[test]
    fn an_encoded_tuple_parses_back() {
        let c = Connection {
            protocol: Protocol::Udp,
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            sport: 5000,
            dport: 53,
            reply_src: "fd00::3".parse().unwrap(),
            reply_sport: 5353,
        };
        let reply = Connection {
            src: c.reply_src,
            dst: c.src,
            sport: c.reply_sport,
            dport: c.sport,
            ..c.clone()
        };
        let mut body = vec![AF_INET6, 0, 0, 0];
        for (kind, t) in [(CTA_TUPLE_ORIG, &c), (CTA_TUPLE_REPLY, &reply)] {
            let at = nest_start(&mut body, kind);
            tuple(&mut body, t);
            nest_end(&mut body, at);
        }
        attr(&mut body, CTA_ZONE, &7u16.to_be_bytes());
        assert_eq!(parse_entry(&body), Some(Entry { conn: c, zone: 7 }));
    }
}
