//! The `NETLINK_NETFILTER` socket of the controller's two nfnetlink users: the NFLOG
//! reader ([`crate::nflog`]) and the conntrack table ([`crate::conntrack::netlink`]).
//!
//! Everything protocol-level comes from the rust-netlink crates: the socket is
//! `netlink-sys`'s, the message framing `netlink-packet-core`'s and the nfnetlink messages
//! (`nfgenmsg` and the NFLOG and ctnetlink attributes) `netlink-packet-netfilter`'s. The two
//! socket options `netlink-sys` has no setter for (`SO_RCVBUFFORCE`, `SO_RCVTIMEO`) go
//! through `nix`. What is left here is the glue both users need: a datagram split into
//! its messages, requests appended to a batch, and the kernel as the only sender heard.
//!
//! (It lives under `nflog` only because the crate root is being restructured elsewhere;
//! it is `pub(crate)` and depends on nothing of NFLOG.)

use netlink_packet_core::{
    DecodeError, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, Parseable,
    NLMSG_ALIGNTO,
};
use netlink_packet_netfilter::NetfilterMessage;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket as NlSocket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

/// `sizeof(struct nlmsghdr)`: fewer bytes left in a datagram are no message.
const HEADER_LEN: usize = std::mem::size_of::<libc::nlmsghdr>();

/// A netlink socket of the `NETLINK_NETFILTER` family, bound to a port id the kernel
/// picked, in the network namespace of the thread that opened it; with its receive
/// buffer.
pub(crate) struct Socket {
    sock: NlSocket,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("fd", &self.sock.as_raw_fd())
            .field("buffer", &self.buf.len())
            .finish()
    }
}

/// What [`Socket::recv`] read into the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Datagram {
    /// Bytes kept.
    pub len: usize,
    /// The datagram was larger than the buffer: its tail is lost.
    pub truncated: bool,
}

impl Socket {
    /// Opens and binds a socket that receives datagrams of up to `buf_len` bytes.
    pub fn open(buf_len: usize) -> io::Result<Socket> {
        let mut sock = NlSocket::new(NETLINK_NETFILTER)
            .map_err(|e| annotate(e, "creating the netlink socket"))?;
        sock.bind_auto()
            .map_err(|e| annotate(e, "binding the netlink socket"))?;
        Ok(Socket {
            sock,
            buf: vec![0; buf_len],
        })
    }

    /// How long [`Socket::recv`] blocks at most; `None` blocks until a datagram comes.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeval means "block forever"; round a tiny timeout up to 1 µs.
        let tv = match timeout {
            None => TimeVal::new(0, 0),
            Some(d) => {
                let d = d.max(Duration::from_micros(1));
                TimeVal::new(
                    libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                    libc::suseconds_t::from(d.subsec_micros() as i32),
                )
            }
        };
        setsockopt(&self.sock, sockopt::ReceiveTimeout, &tv)
            .map_err(|e| annotate(e.into(), "setting SO_RCVTIMEO"))
    }

    /// Sets the receive buffer size: `SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`
    /// (which the kernel caps at `net.core.rmem_max`).
    pub fn set_recv_buffer(&self, bytes: usize) -> io::Result<()> {
        let bytes = bytes.min(libc::c_int::MAX as usize);
        if setsockopt(&self.sock, sockopt::RcvBufForce, &bytes).is_ok() {
            return Ok(());
        }
        setsockopt(&self.sock, sockopt::RcvBuf, &bytes)
            .map_err(|e| annotate(e.into(), "setting the receive buffer"))
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.sock.set_non_blocking(on)
    }

    /// `NETLINK_CAP_ACK`: acknowledgements without the request echoed.
    pub fn set_cap_ack(&self) -> io::Result<()> {
        self.sock
            .set_cap_ack(true)
            .map_err(|e| annotate(e, "setting NETLINK_CAP_ACK"))
    }

    /// Sends `msgs` (one or more requests) to the kernel in one datagram.
    pub fn send(&self, msgs: &[u8]) -> io::Result<()> {
        let kernel = SocketAddr::new(0, 0);
        loop {
            match self.sock.send_to(msgs, &kernel, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Receives one datagram into the buffer ([`Socket::received`]). `None`: it came from
    /// another socket, not the kernel, and was dropped. Interrupted calls are retried; a
    /// timeout is `WouldBlock`.
    pub fn recv(&mut self) -> io::Result<Option<Datagram>> {
        let (n, from) = loop {
            // MSG_TRUNC: the length returned is the datagram's, even past the buffer.
            match self.sock.recv_from(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if from.port_number() != 0 {
            // Another process of the namespace wrote to our port id: not a kernel report.
            return Ok(None);
        }
        Ok(Some(Datagram {
            len: n.min(self.buf.len()),
            truncated: n > self.buf.len(),
        }))
    }

    /// The first `d.len` bytes of the buffer: the datagram [`Socket::recv`] returned.
    pub fn received(&self, d: Datagram) -> &[u8] {
        &self.buf[..d.len]
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

pub(crate) fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// One message of a datagram: its header, and its payload if it decoded.
#[derive(Debug)]
pub(crate) struct Message {
    pub header: NetlinkHeader,
    pub payload: Result<NetlinkPayload<NetfilterMessage>, DecodeError>,
}

/// The messages of a datagram, in order. A message whose framing is broken (a length
/// below the header's, or past the datagram's end) ends the walk as one `Err`; fewer
/// bytes than a header after the last message are ignored.
pub(crate) fn messages(mut buf: &[u8]) -> impl Iterator<Item = Result<Message, DecodeError>> + '_ {
    std::iter::from_fn(move || {
        if buf.len() < HEADER_LEN {
            return None;
        }
        let framed = match NetlinkBuffer::new_checked(buf) {
            Ok(framed) => framed,
            Err(e) => {
                buf = &[];
                return Some(Err(e));
            }
        };
        let len = framed.length() as usize;
        let header = match NetlinkHeader::parse(&framed) {
            Ok(header) => header,
            Err(e) => {
                buf = &[];
                return Some(Err(e));
            }
        };
        let payload =
            NetlinkMessage::<NetfilterMessage>::deserialize(&buf[..len]).map(|m| m.payload);
        let next = len.next_multiple_of(usize::from(NLMSG_ALIGNTO));
        buf = buf.get(next..).unwrap_or(&[]);
        Some(Ok(Message { header, payload }))
    })
}

/// Appends `message` to `out` as one request with `flags` and sequence number `seq`.
pub(crate) fn push_request(out: &mut Vec<u8>, flags: u16, seq: u32, message: NetfilterMessage) {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(message));
    msg.finalize();
    let start = out.len();
    out.resize(start + msg.buffer_len(), 0);
    msg.serialize(&mut out[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{ErrorMessage, NLM_F_ACK, NLM_F_REQUEST};
    use netlink_packet_netfilter::conntrack::ConntrackMessage;
    use netlink_packet_netfilter::{NetfilterHeader, NetfilterProtoFamily};

    fn get(seq: u32) -> Vec<u8> {
        let mut out = Vec::new();
        push_request(
            &mut out,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            NetfilterMessage::new(
                NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0),
                ConntrackMessage::Get(vec![]),
            ),
        );
        out
    }

    #[test]
    fn requests_are_laid_out_as_nlmsghdr_then_nfgenmsg() {
        let m = get(9);
        assert_eq!(HEADER_LEN, 16);
        assert_eq!(m.len(), 20);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 20);
        // NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 0x0101);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 0x05);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 9);
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 0, 0, 0]);
    }

    #[test]
    fn a_datagram_splits_into_its_messages_and_stops_at_broken_framing() {
        let mut buf = get(1);
        buf.extend(get(2));
        let mut ack = Vec::new();
        let mut h = NetlinkHeader::default();
        h.sequence_number = 3;
        let mut m = NetlinkMessage::<NetfilterMessage>::new(
            h,
            NetlinkPayload::Error(ErrorMessage::default()),
        );
        m.finalize();
        ack.resize(m.buffer_len(), 0);
        m.serialize(&mut ack);
        buf.extend(&ack);
        let got: Vec<_> = messages(&buf).collect();
        assert_eq!(got.len(), 3);
        let seqs: Vec<u32> = got
            .iter()
            .map(|m| m.as_ref().unwrap().header.sequence_number)
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(matches!(
            got[2].as_ref().unwrap().payload,
            Ok(NetlinkPayload::Error(ErrorMessage { code: None, .. }))
        ));
        // Fewer bytes than a header at the end: nothing more.
        buf.extend([0; 15]);
        assert_eq!(messages(&buf).count(), 3);
        // A length past the end: one error, then nothing.
        let mut bad = get(1);
        bad[0..4].copy_from_slice(&64u32.to_ne_bytes());
        bad.extend(get(2));
        let got: Vec<_> = messages(&bad).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
        assert_eq!(messages(&[]).count(), 0);
    }
}
