//! NFLOG: dropped packets reported by the kernel.
//!
//! The ruleset's policy drops can carry `log group N` (see `RenderOptions::log_group` in
//! netfence-nft). nftables hands such packets to `nfnetlink_log`, which sends them to the
//! one netlink socket bound to group N *in the same network namespace*. This module is
//! that socket (no libnetfilter_log), on the rust-netlink crates: `netlink-sys` for the
//! socket, `netlink-packet-core` for the framing and `netlink-packet-netfilter` for the
//! NFLOG messages, through the `nfnetlink` glue this module shares with ctnetlink; the
//! logged packet's headers are read with `etherparse`.
//!
//! 1. a `NETLINK_NETFILTER` socket, bound (the kernel picks the port id);
//! 2. an `NFULNL_MSG_CONFIG` request with `NFULA_CFG_CMD = NFULNL_CFG_CMD_BIND` for the
//!    group (acked; `EPERM` when another socket of the namespace holds the group);
//! 3. a second request setting the copy mode (`NFULNL_COPY_PACKET`, first
//!    [`Config::copy_range`] bytes), the queue threshold and the flush timeout;
//! 4. `NFULNL_MSG_PACKET` messages, possibly several per datagram (then followed by an
//!    `NLMSG_DONE`), whose attributes carry the prefix, the hook, the interfaces and the
//!    packet from its network header on.
//!
//! The legacy `NFULNL_CFG_CMD_PF_UNBIND` / `PF_BIND` commands are not sent: they only
//! choose the namespace's *default* logger (the one `log` rules without `group` use), and
//! sending them would move those rules from syslog to nfnetlink_log. `log group N` names
//! the nfnetlink_log logger explicitly, so binding the group is all the kernel needs.
//!
//! The kernel destroys the group's instance when the socket is closed, so dropping an
//! [`NflogSocket`] releases the group.

use crate::nfnetlink::{self, annotate};
use etherparse::{IpNumber, Ipv6ExtensionSlice, LaxIpSlice, TcpHeaderSlice, UdpHeaderSlice};
use netlink_packet_core::{NetlinkPayload, Nla, NLMSG_ERROR};
use netlink_packet_netfilter::nflog::{
    config_request, ConfigCmd, ConfigMode, ConfigNla, PacketHdr, PacketNla, Timeout, ULogMessage,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// The address family of a logged packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// One packet the kernel logged to the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedPacket {
    /// The rule's `log prefix`, as written (nft keeps trailing spaces); empty if none.
    pub prefix: String,
    pub family: Family,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol (IPv6: the header after the extension headers skipped).
    pub protocol: u8,
    /// TCP, UDP and SCTP ports; `None` for other protocols, later fragments, or when the
    /// copied bytes end before them.
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// The group the packet was logged to.
    pub group: u16,
    /// The netfilter hook (`NF_INET_*`: 0 prerouting, 1 input, 2 forward, 3 output,
    /// 4 postrouting), from `NFULA_PACKET_HDR`.
    pub hook: Option<u8>,
    /// The link-layer protocol (ethertype, e.g. 0x0800) from `NFULA_PACKET_HDR`.
    pub hw_protocol: Option<u16>,
    /// Input and output interface indexes, when the hook has them.
    pub indev: Option<u32>,
    pub outdev: Option<u32>,
}

/// How the kernel should report packets. [`Config::default`] suits a drop reporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bytes of each packet copied, from the network header (headers are all we read;
    /// 0 copies whole packets).
    pub copy_range: u16,
    /// The kernel sends its batch once it holds this many packets...
    pub queue_threshold: u32,
    /// ...or this long after the first one (1/100 s resolution, at least 1/100 s).
    pub flush_timeout: Duration,
    /// The socket's receive buffer (`SO_RCVBUFFORCE`, falling back to `SO_RCVBUF`);
    /// `None` keeps the system default. When it fills, the kernel drops messages and
    /// [`Stats::overruns`] counts it.
    pub recv_buffer: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            copy_range: 128,
            queue_threshold: 16,
            flush_timeout: Duration::from_millis(50),
            recv_buffer: Some(1 << 20),
        }
    }
}

/// Counters of what [`NflogSocket::recv`] could not turn into packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets returned.
    pub packets: u64,
    /// Times the kernel could not deliver (ENOBUFS: the receive buffer was full, messages
    /// were lost) or sent `NLMSG_OVERRUN`.
    pub overruns: u64,
    /// Packet messages that were malformed or did not hold an IPv4/IPv6 header.
    pub unparsed: u64,
    /// Datagrams larger than the receive buffer (their tail is lost).
    pub truncated: u64,
    /// Netlink error messages received outside the configuration handshake.
    pub errors: u64,
}

/// Room for the largest datagram nfnetlink_log builds: a batch of at most 128 KiB
/// (`nlbufsiz` is capped at 131072) or one packet of up to 64 KiB.
const RECV_BUF: usize = 256 * 1024;

/// How long [`NflogSocket::open`] waits for each acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// `nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET)`: the type of a packet message.
const MSG_PACKET: u16 = ((libc::NFNL_SUBSYS_ULOG as u16) << 8) | libc::NFULNL_MSG_PACKET as u16;

/// A netlink socket bound to one NFLOG group of the network namespace it was opened in.
#[derive(Debug)]
pub struct NflogSocket {
    sock: nfnetlink::Socket,
    group: u16,
    seq: u32,
    /// Packets that arrived while waiting for an acknowledgement.
    pending: Vec<LoggedPacket>,
    stats: Stats,
}

impl NflogSocket {
    /// Binds `group` in the calling thread's network namespace with [`Config::default`].
    /// Needs CAP_NET_ADMIN. Fails with `EPERM` (kind `PermissionDenied`) when another
    /// socket of the namespace holds the group. Errors say which step failed.
    pub fn open(group: u16) -> io::Result<NflogSocket> {
        NflogSocket::open_with(group, &Config::default())
    }

    /// Binds `group` in the calling thread's network namespace. The socket stays in that
    /// namespace whichever thread uses it later.
    pub fn open_with(group: u16, config: &Config) -> io::Result<NflogSocket> {
        let mut sock = NflogSocket {
            sock: nfnetlink::Socket::open(RECV_BUF)?,
            group,
            seq: 0,
            pending: Vec::new(),
            stats: Stats::default(),
        };
        if let Some(size) = config.recv_buffer {
            sock.set_recv_buffer(size)?;
        }
        sock.sock.set_timeout(Some(ACK_TIMEOUT))?;
        sock.request(vec![ConfigCmd::Bind.into()]).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (another socket of this network namespace holds the group, or \
                 CAP_NET_ADMIN is missing)"
            } else {
                ""
            };
            annotate(e, &format!("binding NFLOG group {group}{hint}"))
        })?;
        sock.request(config_attrs(config))
            .map_err(|e| annotate(e, &format!("configuring NFLOG group {group}")))?;
        sock.sock.set_timeout(None)?;
        Ok(sock)
    }

    /// The group this socket is bound to.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// What was lost or unreadable so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// How long [`NflogSocket::recv`] blocks at most; `None` (the default) blocks until a
    /// packet arrives.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_timeout(timeout)
    }

    /// Non-blocking mode (for an event loop polling [`AsFd::as_fd`]): `recv` then returns
    /// an empty vector at once when nothing is queued.
    pub fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        self.sock.set_nonblocking(on)
    }

    /// Sets the receive buffer size (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`,
    /// which the kernel caps at `net.core.rmem_max`).
    pub fn set_recv_buffer(&mut self, bytes: usize) -> io::Result<()> {
        self.sock.set_recv_buffer(bytes)
    }

    /// Waits for logged packets and returns those of one datagram (a batch).
    ///
    /// An empty vector means the timeout passed (or, non-blocking, nothing was queued).
    /// Lost messages (ENOBUFS, `NLMSG_OVERRUN`), unreadable packets and stray netlink
    /// errors are counted in [`NflogSocket::stats`], never returned as errors; an error is
    /// a failure of the socket itself.
    pub fn recv(&mut self) -> io::Result<Vec<LoggedPacket>> {
        if !self.pending.is_empty() {
            let out = std::mem::take(&mut self.pending);
            self.stats.packets += out.len() as u64;
            return Ok(out);
        }
        loop {
            let Some(datagram) = self.recv_datagram()? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for m in parse_datagram(self.sock.received(datagram)) {
                match m {
                    Message::Packet(p) => out.push(p),
                    Message::Unparsed => self.stats.unparsed += 1,
                    Message::Overrun => self.stats.overruns += 1,
                    Message::Ack { error: 0, .. } | Message::Ignored => {}
                    Message::Ack { .. } => self.stats.errors += 1,
                }
            }
            if !out.is_empty() {
                self.stats.packets += out.len() as u64;
                return Ok(out);
            }
        }
    }

    /// The next datagram from the kernel; `None` when the timeout passed (or nothing was
    /// queued, non-blocking). ENOBUFS and truncation are counted.
    fn recv_datagram(&mut self) -> io::Result<Option<nfnetlink::Datagram>> {
        loop {
            match self.sock.recv() {
                Ok(Some(d)) => {
                    if d.truncated {
                        self.stats.truncated += 1;
                    }
                    return Ok(Some(d));
                }
                // Not from the kernel: dropped.
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => self.stats.overruns += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one config request and waits for its acknowledgement.
    fn request(&mut self, attrs: Vec<ConfigNla>) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.sock.send(&config_message(self.group, seq, attrs))?;
        loop {
            let Some(datagram) = self.recv_datagram()? else {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no acknowledgement from the kernel",
                ));
            };
            let mut result = None;
            for m in parse_datagram(self.sock.received(datagram)) {
                match m {
                    Message::Ack { seq: s, error } if s == seq => {
                        result = Some(if error == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(error.saturating_neg()))
                        });
                    }
                    Message::Ack { .. } => self.stats.errors += 1,
                    Message::Packet(p) => self.pending.push(p),
                    Message::Unparsed => self.stats.unparsed += 1,
                    Message::Overrun => self.stats.overruns += 1,
                    Message::Ignored => {}
                }
            }
            if let Some(r) = result {
                return r;
            }
        }
    }
}

impl AsFd for NflogSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for NflogSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// The attributes of the second config request: copy mode, threshold, flush timeout.
fn config_attrs(config: &Config) -> Vec<ConfigNla> {
    let centis = (config.flush_timeout.as_millis() / 10).clamp(1, u128::from(u32::MAX)) as u32;
    vec![
        ConfigMode::new_packet(u32::from(config.copy_range)).into(),
        ConfigNla::QThresh(config.queue_threshold.max(1)),
        Timeout::new(centis).into(),
    ]
}

/// An `NFULNL_MSG_CONFIG` request for `group` with the given attributes, acked.
fn config_message(group: u16, seq: u32, attrs: Vec<ConfigNla>) -> Vec<u8> {
    let mut msg = config_request(NetfilterProtoFamily::Unspec, group, attrs);
    msg.header.sequence_number = seq;
    let mut out = vec![0; msg.buffer_len()];
    msg.serialize(&mut out);
    out
}

/// One netlink message of a datagram.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Packet(LoggedPacket),
    /// A packet message we could not read (malformed, or not IPv4/IPv6).
    Unparsed,
    /// `NLMSG_ERROR`: an acknowledgement (error 0) or a negative errno, for request `seq`.
    Ack {
        seq: u32,
        error: i32,
    },
    Overrun,
    /// `NLMSG_NOOP`, `NLMSG_DONE`, other types.
    Ignored,
}

/// Splits a datagram into its netlink messages. A message whose length does not fit ends
/// the walk (counted as one unparsed message).
fn parse_datagram(buf: &[u8]) -> Vec<Message> {
    nfnetlink::messages(buf)
        .map(|m| m.map_or(Message::Unparsed, message))
        .collect()
}

fn message(m: nfnetlink::Message) -> Message {
    match m.payload {
        Ok(NetlinkPayload::InnerMessage(NetfilterMessage {
            header,
            inner: NetfilterMessageInner::ULog(ULogMessage::Packet(nlas)),
            ..
        })) => packet(&header, &nlas).map_or(Message::Unparsed, Message::Packet),
        Ok(NetlinkPayload::Error(e)) => {
            // struct nlmsgerr: the error, then the request's header. The kernel copies the
            // request's seq into our header too; if it did not, take the embedded one.
            let seq = if m.header.sequence_number != 0 {
                m.header.sequence_number
            } else if e.header.len() >= std::mem::size_of::<libc::nlmsghdr>() {
                netlink_packet_core::NetlinkBuffer::new(&e.header[..]).sequence_number()
            } else {
                0
            };
            Message::Ack {
                seq,
                error: e.raw_code(),
            }
        }
        Ok(NetlinkPayload::Overrun(_)) => Message::Overrun,
        Ok(_) => Message::Ignored,
        // An error too short for its code, or a packet message that did not decode.
        Err(_) if matches!(m.header.message_type, NLMSG_ERROR | MSG_PACKET) => Message::Unparsed,
        Err(_) => Message::Ignored,
    }
}

/// `NFULA_PACKET_HDR` (struct nfulnl_msg_packet_hdr: be16 hw_protocol, u8 hook, u8 pad).
/// netlink-packet-netfilter 0.4 decodes it but keeps the fields private, so they are read
/// back from its own encoding of the attribute's value.
fn packet_hdr(h: &PacketHdr) -> Option<(u16, u8)> {
    let mut raw = vec![0; h.value_len()];
    h.emit_value(&mut raw);
    match raw[..] {
        [a, b, hook, ..] => Some((u16::from_be_bytes([a, b]), hook)),
        _ => None,
    }
}

/// A decoded `NFULNL_MSG_PACKET`: its nfgenmsg (family, group) and attributes.
fn packet(nfgen: &NetfilterHeader, nlas: &[PacketNla]) -> Option<LoggedPacket> {
    let mut prefix = String::new();
    let (mut hook, mut hw_protocol, mut indev, mut outdev, mut payload) =
        (None, None, None, None, None);
    for nla in nlas {
        match nla {
            PacketNla::PacketHdr(h) => {
                if let Some((protocol, h)) = packet_hdr(h) {
                    hw_protocol = Some(protocol);
                    hook = Some(h);
                }
            }
            PacketNla::IfIndexInDev(i) => indev = Some(*i),
            PacketNla::IfIndexOutDev(i) => outdev = Some(*i),
            PacketNla::Prefix(p) => prefix = p.to_string_lossy().into_owned(),
            PacketNla::Payload(p) => payload = Some(p.as_slice()),
            _ => {}
        }
    }
    let h = parse_ip(payload?)?;
    let expected = match h.family {
        Family::V4 => NetfilterProtoFamily::IPv4,
        Family::V6 => NetfilterProtoFamily::IPv6,
    };
    // At the inet hooks the family says what the payload is; elsewhere (bridge, netdev)
    // it names the hook family, and the version nibble decides.
    if matches!(
        nfgen.family,
        NetfilterProtoFamily::IPv4 | NetfilterProtoFamily::IPv6
    ) && nfgen.family != expected
    {
        return None;
    }
    Some(LoggedPacket {
        prefix,
        family: h.family,
        src: h.src,
        dst: h.dst,
        protocol: h.protocol,
        src_port: h.ports.map(|p| p.0),
        dst_port: h.ports.map(|p| p.1),
        group: nfgen.res_id,
        hook,
        hw_protocol,
        indev,
        outdev,
    })
}

/// What the network and transport headers say.
#[derive(Debug, PartialEq, Eq)]
struct Headers {
    family: Family,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ports: Option<(u16, u16)>,
}

/// The ports of a TCP, UDP or SCTP header at the start of `l4`, if it is whole.
fn ports(protocol: IpNumber, l4: &[u8]) -> Option<(u16, u16)> {
    match protocol {
        IpNumber::TCP => TcpHeaderSlice::from_slice(l4)
            .ok()
            .map(|t| (t.source_port(), t.destination_port())),
        IpNumber::UDP => UdpHeaderSlice::from_slice(l4)
            .ok()
            .map(|u| (u.source_port(), u.destination_port())),
        // etherparse has no SCTP: its common header starts with be16 source port and
        // be16 destination port (RFC 9260, 3.1).
        IpNumber::SCTP => match *l4 {
            [a, b, c, d, ..] => Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))),
            _ => None,
        },
        _ => None,
    }
}

/// Parses an IPv4 or IPv6 header, IPv6 extension headers and IPv4 AH included (and the
/// ports after them), at the start of `p`. Parsing is lax: the copy range cuts packets,
/// so the header's length fields may name more bytes than `p` holds.
fn parse_ip(p: &[u8]) -> Option<Headers> {
    let (ip, _stopped) = LaxIpSlice::from_slice(p).ok()?;
    // A later fragment carries no transport header; the first one (offset 0) does.
    let (family, first_fragment) = match &ip {
        LaxIpSlice::Ipv4(v4) => (Family::V4, v4.header().fragments_offset().value() == 0),
        LaxIpSlice::Ipv6(v6) => (
            Family::V6,
            v6.extensions().clone().into_iter().all(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(f) => f.fragment_offset().value() == 0,
                _ => true,
            }),
        ),
    };
    // When an extension header is cut off, the payload's protocol is that header's.
    let l4 = ip.payload();
    Some(Headers {
        family,
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol: l4.ip_number.0,
        ports: if first_fragment {
            ports(l4.ip_number, l4.payload)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{
        DefaultNla, DoneMessage, ErrorMessage, NetlinkHeader, NetlinkMessage, NLA_F_NET_BYTEORDER,
        NLMSG_DONE, NLMSG_NOOP, NLMSG_OVERRUN,
    };
    use netlink_packet_netfilter::nflog::TimeStamp;
    use std::ffi::CString;
    use std::net::Ipv6Addr;
    use std::num::NonZeroI32;

    fn ne_u16(b: &[u8]) -> u16 {
        u16::from_ne_bytes([b[0], b[1]])
    }
    fn ne_u32(b: &[u8]) -> u32 {
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// A message as the kernel sends it, encoded by netlink-packet-core.
    fn encode(payload: NetlinkPayload<NetfilterMessage>, flags: u16, seq: u32) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut m = NetlinkMessage::new(header, payload);
        m.finalize();
        let mut out = vec![0; m.buffer_len()];
        m.serialize(&mut out);
        out
    }

    /// A message no encoder would build (for the malformed cases), by hand.
    fn raw_nlmsg(ty: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(m.len().next_multiple_of(4), 0);
        m
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0];
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        p
    }

    fn ipv6(next: u8, src: &str, dst: &str, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(rest);
        p
    }

    /// 20 bytes that read as a TCP header (data offset 5) and as a UDP header with the
    /// same ports (and as an SCTP common header).
    fn l4ports(sport: u16, dport: u16) -> Vec<u8> {
        let mut l4 = sport.to_be_bytes().to_vec();
        l4.extend_from_slice(&dport.to_be_bytes());
        l4.extend_from_slice(&[0; 8]);
        l4.push(0x50);
        l4.extend_from_slice(&[0; 7]);
        l4
    }

    fn packet_nlas(prefix: Option<&str>, payload: &[u8]) -> Vec<PacketNla> {
        let mut nlas = vec![PacketNla::PacketHdr(
            PacketHdr::parse(&[0x08, 0x00, 2, 0]).unwrap(),
        )];
        if let Some(p) = prefix {
            nlas.push(PacketNla::Prefix(CString::new(p).unwrap()));
        }
        nlas.push(PacketNla::IfIndexInDev(3));
        nlas.push(PacketNla::IfIndexOutDev(4));
        nlas.push(PacketNla::Timestamp(TimeStamp::parse(&[0; 16]).unwrap()));
        nlas.push(PacketNla::Payload(payload.to_vec()));
        nlas
    }

    fn ulog(family: u8, group: u16, nlas: Vec<PacketNla>) -> Vec<u8> {
        let m = NetfilterMessage::new(
            NetfilterHeader::new(family.into(), 0, group),
            ULogMessage::Packet(nlas),
        );
        encode(NetlinkPayload::InnerMessage(m), 0, 0)
    }

    /// A packet message as nfnetlink_log builds it.
    fn packet_msg(family: u8, group: u16, prefix: Option<&str>, payload: &[u8]) -> Vec<u8> {
        ulog(family, group, packet_nlas(prefix, payload))
    }

    /// An `NLMSG_ERROR` for the config request `request_seq`, in a message of seq `seq`.
    fn error_msg(code: i32, seq: u32, request_seq: u32) -> Vec<u8> {
        let mut e = ErrorMessage::default();
        e.code = NonZeroI32::new(code);
        e.header = config_message(7, request_seq, vec![])[..16].to_vec();
        encode(NetlinkPayload::Error(e), 0, seq)
    }

    fn packets(buf: &[u8]) -> Vec<LoggedPacket> {
        parse_datagram(buf)
            .into_iter()
            .map(|m| match m {
                Message::Packet(p) => p,
                other => panic!("expected a packet, got {other:?}"),
            })
            .collect()
    }

    fn packets_of(buf: &[u8]) -> Vec<LoggedPacket> {
        parse_datagram(buf)
            .into_iter()
            .filter_map(|m| match m {
                Message::Packet(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn config_messages_are_laid_out_like_the_kernel_expects() {
        let bind = config_message(7, 1, vec![ConfigCmd::Bind.into()]);
        // 16 header + 4 nfgenmsg + 8 (5-byte attribute padded to 4).
        assert_eq!(bind.len(), 28);
        assert_eq!(ne_u32(&bind[0..4]), 28);
        assert_eq!(ne_u16(&bind[4..6]), 0x0401); // NFNL_SUBSYS_ULOG << 8 | MSG_CONFIG
        assert_eq!(ne_u16(&bind[6..8]), 0x05); // REQUEST | ACK
        assert_eq!(ne_u32(&bind[8..12]), 1);
        assert_eq!(&bind[16..20], &[0, 0, 0, 7]); // AF_UNSPEC, v0, be16 group
        assert_eq!(ne_u16(&bind[20..22]), 5);
        assert_eq!(i32::from(ne_u16(&bind[22..24])), libc::NFULA_CFG_CMD);
        assert_eq!(&bind[24..28], &[libc::NFULNL_CFG_CMD_BIND as u8, 0, 0, 0]);

        let cfg = Config {
            copy_range: 128,
            queue_threshold: 16,
            flush_timeout: Duration::from_millis(50),
            recv_buffer: None,
        };
        let msg = config_message(0x1234, 2, config_attrs(&cfg));
        assert_eq!(&msg[18..20], &[0x12, 0x34]);
        // Mode: 4 + 6 bytes, padded to 12: be32 range, mode, pad.
        assert_eq!(ne_u16(&msg[20..22]), 10);
        assert_eq!(i32::from(ne_u16(&msg[22..24])), libc::NFULA_CFG_MODE);
        assert_eq!(
            &msg[24..30],
            &[0, 0, 0, 128, libc::NFULNL_COPY_PACKET as u8, 0]
        );
        assert_eq!(ne_u16(&msg[32..34]), 8);
        assert_eq!(i32::from(ne_u16(&msg[34..36])), libc::NFULA_CFG_QTHRESH);
        assert_eq!(&msg[36..40], &[0, 0, 0, 16]);
        assert_eq!(i32::from(ne_u16(&msg[42..44])), libc::NFULA_CFG_TIMEOUT);
        assert_eq!(&msg[44..48], &[0, 0, 0, 5]); // 50 ms = 5 centiseconds
        assert_eq!(msg.len(), 48);
        assert_eq!(ne_u32(&msg[0..4]), 48);
        // A flush timeout under 10 ms is still one centisecond, never "no timeout".
        let fast = config_attrs(&Config {
            flush_timeout: Duration::from_millis(1),
            ..cfg
        });
        assert_eq!(&config_message(1, 3, fast)[44..48], &[0, 0, 0, 1]);
    }

    #[test]
    fn packet_messages_are_of_the_ulog_packet_type() {
        assert_eq!(MSG_PACKET, 0x0400);
        let buf = packet_msg(2, 7, None, &[]);
        assert_eq!(ne_u16(&buf[4..6]), MSG_PACKET);
    }

    #[test]
    fn parses_an_ipv4_tcp_packet_with_its_attributes() {
        let payload = ipv4(
            6,
            [10, 244, 1, 2],
            [10, 244, 1, 3],
            0x4000,
            &l4ports(40000, 81),
        );
        let buf = packet_msg(2, 7, Some("nf test "), &payload);
        let p = packets(&buf);
        assert_eq!(
            p,
            vec![LoggedPacket {
                prefix: "nf test ".into(),
                family: Family::V4,
                src: "10.244.1.2".parse().unwrap(),
                dst: "10.244.1.3".parse().unwrap(),
                protocol: 6,
                src_port: Some(40000),
                dst_port: Some(81),
                group: 7,
                hook: Some(2),
                hw_protocol: Some(0x0800),
                indev: Some(3),
                outdev: Some(4),
            }]
        );
    }

    #[test]
    fn parses_every_message_of_a_multipart_datagram() {
        let mut buf = packet_msg(
            2,
            7,
            Some("a"),
            &ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], 0, &l4ports(5353, 53)),
        );
        // nfnetlink_log sets no flags itself; a reader must not depend on NLM_F_MULTI.
        buf[6..8].copy_from_slice(&2u16.to_ne_bytes());
        buf.extend(packet_msg(
            10,
            7,
            None,
            &ipv6(6, "fd00::1", "fd00::2", &l4ports(1234, 443)),
        ));
        let mut done = DoneMessage::default();
        done.code = 7;
        buf.extend(encode(NetlinkPayload::Done(done), 2, 0));
        let msgs = parse_datagram(&buf);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2], Message::Ignored);
        let p = packets_of(&buf);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].protocol, 17);
        assert_eq!(p[0].prefix, "a");
        assert_eq!((p[0].src_port, p[0].dst_port), (Some(5353), Some(53)));
        assert_eq!(p[1].family, Family::V6);
        assert_eq!(p[1].prefix, "");
        assert_eq!(p[1].dst, "fd00::2".parse::<IpAddr>().unwrap());
        assert_eq!((p[1].protocol, p[1].dst_port), (6, Some(443)));
    }

    #[test]
    fn acks_errors_and_overruns() {
        let mut buf = error_msg(-16, 9, 9); // -EBUSY
        buf.extend(error_msg(0, 10, 10));
        buf.extend(encode(NetlinkPayload::Overrun(vec![]), 0, 0));
        buf.extend(encode(NetlinkPayload::Noop, 0, 0));
        // An error whose own header has seq 0: the request's header inside names it.
        buf.extend(error_msg(-1, 0, 11));
        // Too short to hold the error code.
        buf.extend(raw_nlmsg(NLMSG_ERROR, 12, &[1, 2]));
        assert_eq!(
            parse_datagram(&buf),
            vec![
                Message::Ack { seq: 9, error: -16 },
                Message::Ack { seq: 10, error: 0 },
                Message::Overrun,
                Message::Ignored,
                Message::Ack { seq: 11, error: -1 },
                Message::Unparsed,
            ]
        );
        assert_eq!(
            [NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN],
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn malformed_framing_stops_without_panicking() {
        let good = packet_msg(
            2,
            1,
            None,
            &ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 0, &l4ports(1, 2)),
        );
        // A cut-off second message.
        let mut buf = good.clone();
        buf.extend_from_slice(&good[..good.len() - 8]);
        let msgs = parse_datagram(&buf);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1], Message::Unparsed);
        // Header length below the header size.
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(parse_datagram(&bad), vec![Message::Unparsed]);
        // An attribute claiming more bytes than the message has.
        let mut bad = good.clone();
        bad[20..22].copy_from_slice(&500u16.to_ne_bytes());
        assert_eq!(parse_datagram(&bad), vec![Message::Unparsed]);
        // An attribute of length 0 would loop forever if accepted.
        let mut bad = good;
        bad[20..22].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(parse_datagram(&bad), vec![Message::Unparsed]);
        // Short garbage and empty input.
        assert!(parse_datagram(&[1, 2, 3]).is_empty());
        assert!(parse_datagram(&[]).is_empty());
    }

    #[test]
    fn packets_without_a_readable_ip_header_are_unparsed() {
        // No payload (copy mode meta).
        let buf = ulog(2, 7, vec![PacketNla::Prefix(CString::new("x").unwrap())]);
        assert_eq!(parse_datagram(&buf), vec![Message::Unparsed]);
        // An ARP-looking payload, and a truncated IPv4 header.
        let buf = packet_msg(3, 7, None, &[0x00, 0x01, 0x08, 0x00]);
        assert_eq!(parse_datagram(&buf), vec![Message::Unparsed]);
        let buf = packet_msg(2, 7, None, &[0x45, 0, 0, 0]);
        assert_eq!(parse_datagram(&buf), vec![Message::Unparsed]);
        // The family says IPv6 but the payload is IPv4.
        let buf = packet_msg(
            10,
            7,
            None,
            &ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 0, &l4ports(1, 2)),
        );
        assert_eq!(parse_datagram(&buf), vec![Message::Unparsed]);
        // A prefix without its NUL does not decode.
        let mut nlas = packet_nlas(None, &ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 0, &[]));
        nlas.push(PacketNla::Other(DefaultNla::new(
            libc::NFULA_PREFIX as u16,
            b"x".to_vec(),
        )));
        assert_eq!(parse_datagram(&ulog(2, 7, nlas)), vec![Message::Unparsed]);
    }

    #[test]
    fn bridge_and_netdev_hooks_go_by_the_version_nibble() {
        let v6 = ipv6(17, "fd00::1", "fd00::2", &l4ports(1, 53));
        for family in [libc::NFPROTO_BRIDGE as u8, libc::NFPROTO_NETDEV as u8] {
            let p = packets(&packet_msg(family, 7, None, &v6));
            assert_eq!((p[0].family, p[0].dst_port), (Family::V6, Some(53)));
        }
    }

    #[test]
    fn ipv4_fragments_options_and_short_copies() {
        // SCTP.
        let h = parse_ip(&ipv4(132, [1, 0, 0, 1], [1, 0, 0, 2], 0, &l4ports(7, 9))).unwrap();
        assert_eq!((h.protocol, h.ports), (132, Some((7, 9))));
        // A later fragment carries no ports.
        let h = parse_ip(&ipv4(
            17,
            [1, 0, 0, 1],
            [1, 0, 0, 2],
            0x0010,
            &l4ports(7, 9),
        ))
        .unwrap();
        assert_eq!(h.ports, None);
        // The first fragment (offset 0, more fragments) does.
        let h = parse_ip(&ipv4(
            17,
            [1, 0, 0, 1],
            [1, 0, 0, 2],
            0x2000,
            &l4ports(7, 9),
        ))
        .unwrap();
        assert_eq!(h.ports, Some((7, 9)));
        // ICMP has none either.
        let h = parse_ip(&ipv4(1, [1, 0, 0, 1], [1, 0, 0, 2], 0, &[8, 0, 0, 0])).unwrap();
        assert_eq!((h.protocol, h.ports), (1, None));
        // Options: IHL 6 (24 bytes).
        let mut p = ipv4(6, [1, 0, 0, 1], [1, 0, 0, 2], 0, &[]);
        p[0] = 0x46;
        p.extend_from_slice(&[1, 1, 1, 0]);
        p.extend(l4ports(1000, 2000));
        assert_eq!(parse_ip(&p).unwrap().ports, Some((1000, 2000)));
        // A total length larger than the copied bytes (the copy range cut the packet).
        let mut p = ipv4(17, [1, 0, 0, 1], [1, 0, 0, 2], 0, &l4ports(5, 6));
        p[2..4].copy_from_slice(&1500u16.to_be_bytes());
        assert_eq!(parse_ip(&p).unwrap().ports, Some((5, 6)));
        // Copy range ending inside the TCP header: addresses yes, ports no.
        let p = ipv4(6, [1, 0, 0, 1], [1, 0, 0, 2], 0, &[0, 80]);
        let h = parse_ip(&p).unwrap();
        assert_eq!((h.dst, h.ports), ("1.0.0.2".parse().unwrap(), None));
        // A bogus IHL.
        let mut p = ipv4(6, [1, 0, 0, 1], [1, 0, 0, 2], 0, &l4ports(1, 2));
        p[0] = 0x42;
        assert_eq!(parse_ip(&p), None);
    }

    #[test]
    fn ipv6_extension_headers() {
        // Hop-by-hop (8 bytes) then a first fragment, then UDP.
        let mut rest = vec![44, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, next = fragment
        rest.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 1]); // fragment offset 0, M=1
        rest.extend(l4ports(5353, 53));
        let h = parse_ip(&ipv6(0, "fd00::1", "fd00::2", &rest)).unwrap();
        assert_eq!((h.protocol, h.ports), (17, Some((5353, 53))));
        // A later fragment (offset 8 << 3).
        let mut rest = vec![17, 0, 0, 64, 0, 0, 0, 1];
        rest.extend(l4ports(5353, 53));
        let h = parse_ip(&ipv6(44, "fd00::1", "fd00::2", &rest)).unwrap();
        assert_eq!((h.protocol, h.ports), (17, None));
        // Destination options cut off by the copy range.
        let h = parse_ip(&ipv6(60, "fd00::1", "fd00::2", &[])).unwrap();
        assert_eq!((h.protocol, h.ports), (60, None));
        // ICMPv6, and ESP (not skipped).
        let h = parse_ip(&ipv6(58, "fd00::1", "fd00::2", &[135, 0, 0, 0])).unwrap();
        assert_eq!((h.protocol, h.ports), (58, None));
        let h = parse_ip(&ipv6(50, "fd00::1", "fd00::2", &[0; 16])).unwrap();
        assert_eq!((h.protocol, h.ports), (50, None));
        // Too short for the fixed header.
        assert_eq!(parse_ip(&ipv6(6, "fd00::1", "fd00::2", &[])[..39]), None);
    }

    #[test]
    fn nested_and_byteorder_flags_are_masked_off_attribute_types() {
        let buf = ulog(
            2,
            7,
            vec![
                PacketNla::Other(DefaultNla::new(
                    libc::NFULA_PREFIX as u16 | NLA_F_NET_BYTEORDER,
                    b"flagged\0".to_vec(),
                )),
                PacketNla::Payload(ipv4(17, [1, 0, 0, 1], [1, 0, 0, 2], 0, &l4ports(1, 2))),
            ],
        );
        // The flag is on the wire.
        assert_eq!(ne_u16(&buf[22..24]), 10 | NLA_F_NET_BYTEORDER);
        let p = packets_of(&buf);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].prefix, "flagged");
        assert_eq!((p[0].hook, p[0].indev), (None, None));
    }
}
