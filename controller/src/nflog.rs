//! NFLOG: dropped packets reported by the kernel.
//!
//! The ruleset's policy drops can carry `log group N` (see `RenderOptions::log_group` in
//! netfence-nft). nftables hands such packets to `nfnetlink_log`, which sends them to the
//! one netlink socket bound to group N *in the same network namespace*. This module is
//! that socket, spoken over raw netlink with libc (no libnetfilter_log):
//!
//! 1. `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER)` and `bind` (the
//!    kernel picks the port id);
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
//! Constants are the values of the Linux uapi headers `linux/netlink.h`,
//! `linux/netfilter/nfnetlink.h` and `linux/netfilter/nfnetlink_log.h` (unit tests check
//! them against the `libc` crate). The kernel destroys the group's instance when the
//! socket is closed, so dropping an [`NflogSocket`] releases the group.

// Raw netlink means calling socket/bind/sendto/recvfrom/setsockopt through libc, which
// is `unsafe`. The workspace denies unsafe code; this module is the one place allowed to
// use it, every block with a SAFETY note, and its API is safe.
#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Values from the Linux uapi headers.
mod uapi {
    // linux/netlink.h
    pub const NETLINK_NETFILTER: i32 = 12;
    pub const NLM_F_REQUEST: u16 = 0x01;
    pub const NLM_F_ACK: u16 = 0x04;
    pub const NLMSG_NOOP: u16 = 0x1;
    pub const NLMSG_ERROR: u16 = 0x2;
    pub const NLMSG_DONE: u16 = 0x3;
    pub const NLMSG_OVERRUN: u16 = 0x4;
    /// `NLA_TYPE_MASK`: the attribute type without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub const NLA_TYPE_MASK: u16 = !((1 << 15) | (1 << 14));
    /// `sizeof(struct nlmsghdr)`.
    pub const NLMSG_HDRLEN: usize = 16;
    /// `sizeof(struct nlattr)`.
    pub const NLA_HDRLEN: usize = 4;

    // linux/netfilter/nfnetlink.h
    pub const NFNETLINK_V0: u8 = 0;
    pub const NFNL_SUBSYS_ULOG: u16 = 4;
    /// `sizeof(struct nfgenmsg)`: family u8, version u8, res_id be16.
    pub const NFGENMSG_LEN: usize = 4;

    // linux/netfilter/nfnetlink_log.h
    pub const NFULNL_MSG_PACKET: u16 = 0;
    pub const NFULNL_MSG_CONFIG: u16 = 1;
    pub const NFULA_PACKET_HDR: u16 = 1;
    pub const NFULA_IFINDEX_INDEV: u16 = 4;
    pub const NFULA_IFINDEX_OUTDEV: u16 = 5;
    pub const NFULA_PAYLOAD: u16 = 9;
    pub const NFULA_PREFIX: u16 = 10;
    pub const NFULNL_CFG_CMD_BIND: u8 = 1;
    pub const NFULA_CFG_CMD: u16 = 1;
    pub const NFULA_CFG_MODE: u16 = 2;
    pub const NFULA_CFG_TIMEOUT: u16 = 4;
    pub const NFULA_CFG_QTHRESH: u16 = 5;
    pub const NFULNL_COPY_PACKET: u8 = 0x02;

    /// `nfnl_msg_type(subsys, msg)`: subsystem in the high byte.
    pub const fn nfnl_msg_type(subsys: u16, msg: u16) -> u16 {
        (subsys << 8) | msg
    }
    pub const MSG_PACKET: u16 = nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET);
    pub const MSG_CONFIG: u16 = nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG);

    // AF_* values the kernel puts in nfgen_family for the inet hooks.
    pub const AF_INET: u8 = 2;
    pub const AF_INET6: u8 = 10;

    // IP protocol numbers.
    pub const IPPROTO_TCP: u8 = 6;
    pub const IPPROTO_UDP: u8 = 17;
    pub const IPPROTO_SCTP: u8 = 132;
}

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

/// A netlink socket bound to one NFLOG group of the network namespace it was opened in.
#[derive(Debug)]
pub struct NflogSocket {
    fd: OwnedFd,
    group: u16,
    seq: u32,
    buf: Vec<u8>,
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
        // SAFETY: socket(2) with constant arguments; it only returns a descriptor or -1.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                uapi::NETLINK_NETFILTER,
            )
        };
        if raw < 0 {
            return Err(annotate(
                io::Error::last_os_error(),
                "creating the netlink socket",
            ));
        }
        // SAFETY: `raw` is a descriptor socket(2) just returned, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut sock = NflogSocket {
            fd,
            group,
            seq: 0,
            buf: vec![0; RECV_BUF],
            pending: Vec::new(),
            stats: Stats::default(),
        };
        sock.bind()?;
        if let Some(size) = config.recv_buffer {
            sock.set_recv_buffer(size)?;
        }
        sock.apply_timeout(Some(ACK_TIMEOUT))?;
        sock.request(&[(uapi::NFULA_CFG_CMD, vec![uapi::NFULNL_CFG_CMD_BIND])])
            .map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    " (another socket of this network namespace holds the group, or \
                     CAP_NET_ADMIN is missing)"
                } else {
                    ""
                };
                annotate(e, &format!("binding NFLOG group {group}{hint}"))
            })?;
        sock.request(&config_attrs(config))
            .map_err(|e| annotate(e, &format!("configuring NFLOG group {group}")))?;
        sock.apply_timeout(None)?;
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
        self.apply_timeout(timeout)
    }

    /// Non-blocking mode (for an event loop polling [`AsFd::as_fd`]): `recv` then returns
    /// an empty vector at once when nothing is queued.
    pub fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fcntl(F_GETFL) on a descriptor we own; no pointers involved.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: fcntl(F_SETFL) with an integer argument on a descriptor we own.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sets the receive buffer size (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`,
    /// which the kernel caps at `net.core.rmem_max`).
    pub fn set_recv_buffer(&mut self, bytes: usize) -> io::Result<()> {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        if self
            .setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &v)
            .is_ok()
        {
            return Ok(());
        }
        self.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, &v)
            .map_err(|e| annotate(e, "setting the receive buffer"))
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
            let n = match self.recv_datagram() {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Vec::new()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.stats.overruns += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut out = Vec::new();
            for m in parse_datagram(&self.buf[..n]) {
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

    fn bind(&self) -> io::Result<()> {
        let addr = kernel_addr();
        // SAFETY: `addr` is a fully initialised sockaddr_nl that outlives the call, and
        // the length passed is its size.
        let r = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                sockaddr_nl_len(),
            )
        };
        if r < 0 {
            return Err(annotate(
                io::Error::last_os_error(),
                "binding the netlink socket",
            ));
        }
        Ok(())
    }

    fn setsockopt(&self, level: libc::c_int, name: libc::c_int, v: &libc::c_int) -> io::Result<()> {
        // SAFETY: `v` points to a live c_int and the length passed is its size.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (v as *const libc::c_int).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    fn apply_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeval means "block forever"; round a tiny timeout up to 1 µs.
        let tv = match timeout {
            None => libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            Some(d) => {
                let d = d.max(Duration::from_micros(1));
                libc::timeval {
                    tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                    tv_usec: libc::suseconds_t::from(d.subsec_micros() as i32),
                }
            }
        };
        // SAFETY: `tv` is a live, initialised timeval and the length passed is its size.
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
            return Err(annotate(io::Error::last_os_error(), "setting SO_RCVTIMEO"));
        }
        Ok(())
    }

    /// Sends one config request and waits for its acknowledgement.
    fn request(&mut self, attrs: &[(u16, Vec<u8>)]) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = config_message(self.group, seq, attrs);
        let addr = kernel_addr();
        loop {
            // SAFETY: `msg` and `addr` are live and initialised for the whole call, and
            // the lengths passed are theirs.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast::<libc::c_void>(),
                    msg.len(),
                    0,
                    (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                    sockaddr_nl_len(),
                )
            };
            if r >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        loop {
            let n = match self.recv_datagram() {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no acknowledgement from the kernel",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.stats.overruns += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut result = None;
            for m in parse_datagram(&self.buf[..n]) {
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

    /// Receives one datagram into `self.buf`: `Some(length kept)`, or `None` for a
    /// datagram that did not come from the kernel (dropped).
    fn recv_datagram(&mut self) -> io::Result<Option<usize>> {
        let mut from = kernel_addr();
        let mut from_len = sockaddr_nl_len();
        // SAFETY: `buf` is valid for writes of its length, `from` and `from_len` are live
        // and `from_len` holds the size of `from`. MSG_TRUNC only changes the return value.
        let r = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast::<libc::c_void>(),
                self.buf.len(),
                libc::MSG_TRUNC,
                (&mut from as *mut libc::sockaddr_nl).cast::<libc::sockaddr>(),
                &mut from_len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = r as usize;
        if from.nl_pid != 0 {
            // Another process of the namespace wrote to our port id: not a kernel report.
            return Ok(None);
        }
        if n > self.buf.len() {
            self.stats.truncated += 1;
            return Ok(Some(self.buf.len()));
        }
        Ok(Some(n))
    }
}

impl AsFd for NflogSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NflogSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// The kernel's netlink address (port id 0, no multicast groups).
fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain data (integers and padding); all-zero is valid.
    let mut a: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a
}

fn sockaddr_nl_len() -> libc::socklen_t {
    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t
}

/// The attributes of the second config request: copy mode, threshold, flush timeout.
fn config_attrs(config: &Config) -> Vec<(u16, Vec<u8>)> {
    // struct nfulnl_msg_config_mode (packed): be32 copy_range, u8 copy_mode, u8 pad.
    let mut mode = u32::from(config.copy_range).to_be_bytes().to_vec();
    mode.extend_from_slice(&[uapi::NFULNL_COPY_PACKET, 0]);
    let centis = (config.flush_timeout.as_millis() / 10).clamp(1, u128::from(u32::MAX)) as u32;
    vec![
        (uapi::NFULA_CFG_MODE, mode),
        (
            uapi::NFULA_CFG_QTHRESH,
            config.queue_threshold.max(1).to_be_bytes().to_vec(),
        ),
        (uapi::NFULA_CFG_TIMEOUT, centis.to_be_bytes().to_vec()),
    ]
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// An `NFULNL_MSG_CONFIG` request for `group` with the given attributes, acked.
fn config_message(group: u16, seq: u32, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0u8 /* AF_UNSPEC */, uapi::NFNETLINK_V0];
    body.extend_from_slice(&group.to_be_bytes());
    for (ty, data) in attrs {
        let len = uapi::NLA_HDRLEN + data.len();
        body.extend_from_slice(&(len as u16).to_ne_bytes());
        body.extend_from_slice(&ty.to_ne_bytes());
        body.extend_from_slice(data);
        body.resize(align4(body.len()), 0);
    }
    let len = uapi::NLMSG_HDRLEN + body.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&uapi::MSG_CONFIG.to_ne_bytes());
    msg.extend_from_slice(&(uapi::NLM_F_REQUEST | uapi::NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
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

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}
fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}
fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Splits a datagram into its netlink messages. A message whose length does not fit ends
/// the walk (counted as one unparsed message).
fn parse_datagram(mut buf: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while buf.len() >= uapi::NLMSG_HDRLEN {
        let len = ne_u32(&buf[0..4]) as usize;
        if len < uapi::NLMSG_HDRLEN || len > buf.len() {
            out.push(Message::Unparsed);
            break;
        }
        let ty = ne_u16(&buf[4..6]);
        let seq = ne_u32(&buf[8..12]);
        let body = &buf[uapi::NLMSG_HDRLEN..len];
        out.push(match ty {
            uapi::MSG_PACKET => match parse_packet(body) {
                Some(p) => Message::Packet(p),
                None => Message::Unparsed,
            },
            uapi::NLMSG_ERROR => match body.get(0..4) {
                // struct nlmsgerr: int error, then the header of the request. The kernel
                // copies the request's seq into our header too; if it did not, take it
                // from the embedded header (its seq is at 4 + 8).
                Some(e) => Message::Ack {
                    seq: if seq != 0 {
                        seq
                    } else {
                        body.get(12..16).map_or(0, ne_u32)
                    },
                    error: ne_u32(e) as i32,
                },
                None => Message::Unparsed,
            },
            uapi::NLMSG_OVERRUN => Message::Overrun,
            uapi::NLMSG_NOOP | uapi::NLMSG_DONE => Message::Ignored,
            _ => Message::Ignored,
        });
        let next = align4(len).min(buf.len());
        buf = &buf[next..];
    }
    out
}

/// The body of an `NFULNL_MSG_PACKET`: nfgenmsg, then attributes.
fn parse_packet(body: &[u8]) -> Option<LoggedPacket> {
    if body.len() < uapi::NFGENMSG_LEN {
        return None;
    }
    let nf_family = body[0];
    let group = be_u16(&body[2..4]);
    let mut prefix = String::new();
    let (mut hook, mut hw_protocol, mut indev, mut outdev, mut payload) =
        (None, None, None, None, None);
    let mut attrs = &body[uapi::NFGENMSG_LEN..];
    while attrs.len() >= uapi::NLA_HDRLEN {
        let len = ne_u16(&attrs[0..2]) as usize;
        if len < uapi::NLA_HDRLEN || len > attrs.len() {
            return None;
        }
        let ty = ne_u16(&attrs[2..4]) & uapi::NLA_TYPE_MASK;
        let data = &attrs[uapi::NLA_HDRLEN..len];
        match ty {
            uapi::NFULA_PACKET_HDR if data.len() >= 3 => {
                // struct nfulnl_msg_packet_hdr: be16 hw_protocol, u8 hook, u8 pad.
                hw_protocol = Some(be_u16(&data[0..2]));
                hook = Some(data[2]);
            }
            uapi::NFULA_IFINDEX_INDEV if data.len() >= 4 => indev = Some(be_u32(data)),
            uapi::NFULA_IFINDEX_OUTDEV if data.len() >= 4 => outdev = Some(be_u32(data)),
            uapi::NFULA_PREFIX => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                prefix = String::from_utf8_lossy(&data[..end]).into_owned();
            }
            uapi::NFULA_PAYLOAD => payload = Some(data),
            _ => {}
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    let h = parse_ip(payload?)?;
    let expected = match h.family {
        Family::V4 => uapi::AF_INET,
        Family::V6 => uapi::AF_INET6,
    };
    // At the inet hooks the family says what the payload is; elsewhere (bridge, netdev)
    // it names the hook family, and the version nibble decides.
    if (nf_family == uapi::AF_INET || nf_family == uapi::AF_INET6) && nf_family != expected {
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
        group,
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

fn ports(protocol: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match protocol {
        // All three start with be16 source port, be16 destination port.
        uapi::IPPROTO_TCP | uapi::IPPROTO_UDP | uapi::IPPROTO_SCTP if l4.len() >= 4 => {
            Some((be_u16(&l4[0..2]), be_u16(&l4[2..4])))
        }
        _ => None,
    }
}

/// Parses an IPv4 or IPv6 header (and the ports after it) at the start of `p`.
fn parse_ip(p: &[u8]) -> Option<Headers> {
    match p.first()? >> 4 {
        4 => {
            if p.len() < 20 {
                return None;
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            let protocol = p[9];
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            let fragment_offset = be_u16(&p[6..8]) & 0x1fff;
            let ports = if fragment_offset == 0 {
                p.get(ihl..).and_then(|l4| ports(protocol, l4))
            } else {
                None
            };
            Some(Headers {
                family: Family::V4,
                src: src.into(),
                dst: dst.into(),
                protocol,
                ports,
            })
        }
        6 => {
            if p.len() < 40 {
                return None;
            }
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).ok()?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).ok()?);
            let mut next = p[6];
            let mut off = 40;
            let mut later_fragment = false;
            let mut complete = true;
            // Skip a few extension headers; anything else is the transport header.
            for _ in 0..8 {
                let hdr_len = match next {
                    // Hop-by-hop, routing, destination options: (len + 1) * 8 bytes.
                    0 | 43 | 60 => p.get(off + 1).map(|&l| (usize::from(l) + 1) * 8),
                    // Fragment: 8 bytes; a non-zero offset means no transport header.
                    44 => p.get(off + 2..off + 4).map(|b| {
                        later_fragment |= be_u16(b) >> 3 != 0;
                        8
                    }),
                    // Authentication header: (len + 2) * 4 bytes.
                    51 => p.get(off + 1).map(|&l| (usize::from(l) + 2) * 4),
                    _ => break,
                };
                match hdr_len {
                    Some(l) => {
                        next = p[off];
                        off += l;
                    }
                    None => {
                        complete = false;
                        break;
                    }
                }
            }
            let ports = if complete && !later_fragment {
                p.get(off..).and_then(|l4| ports(next, l4))
            } else {
                None
            };
            Some(Headers {
                family: Family::V6,
                src: src.into(),
                dst: dst.into(),
                protocol: next,
                ports,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(data);
        a.resize(align4(a.len()), 0);
        a
    }

    fn nlmsg(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(align4(m.len()), 0);
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

    fn l4ports(sport: u16, dport: u16) -> Vec<u8> {
        let mut l4 = sport.to_be_bytes().to_vec();
        l4.extend_from_slice(&dport.to_be_bytes());
        l4.extend_from_slice(&[0; 16]);
        l4
    }

    /// A packet message as nfnetlink_log builds it.
    fn packet_msg(family: u8, group: u16, prefix: Option<&str>, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![family, 0];
        body.extend_from_slice(&group.to_be_bytes());
        body.extend(attr(uapi::NFULA_PACKET_HDR, &[0x08, 0x00, 2, 0]));
        if let Some(p) = prefix {
            let mut s = p.as_bytes().to_vec();
            s.push(0);
            body.extend(attr(uapi::NFULA_PREFIX, &s));
        }
        body.extend(attr(uapi::NFULA_IFINDEX_INDEV, &3u32.to_be_bytes()));
        body.extend(attr(uapi::NFULA_IFINDEX_OUTDEV, &4u32.to_be_bytes()));
        body.extend(attr(3 /* NFULA_TIMESTAMP */, &[0; 16]));
        body.extend(attr(uapi::NFULA_PAYLOAD, payload));
        nlmsg(uapi::MSG_PACKET, 0, 0, &body)
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

    #[test]
    fn constants_match_the_uapi_values_in_libc() {
        assert_eq!(uapi::NETLINK_NETFILTER, libc::NETLINK_NETFILTER);
        assert_eq!(i32::from(uapi::NLMSG_ERROR), libc::NLMSG_ERROR);
        assert_eq!(i32::from(uapi::NLMSG_DONE), libc::NLMSG_DONE);
        assert_eq!(i32::from(uapi::NLMSG_NOOP), libc::NLMSG_NOOP);
        assert_eq!(i32::from(uapi::NLMSG_OVERRUN), libc::NLMSG_OVERRUN);
        assert_eq!(i32::from(uapi::NLM_F_REQUEST), libc::NLM_F_REQUEST);
        assert_eq!(i32::from(uapi::NLM_F_ACK), libc::NLM_F_ACK);
        assert_eq!(i32::from(uapi::NFNETLINK_V0), libc::NFNETLINK_V0);
        assert_eq!(i32::from(uapi::NFNL_SUBSYS_ULOG), libc::NFNL_SUBSYS_ULOG);
        assert_eq!(i32::from(uapi::NFULNL_MSG_PACKET), libc::NFULNL_MSG_PACKET);
        assert_eq!(i32::from(uapi::NFULNL_MSG_CONFIG), libc::NFULNL_MSG_CONFIG);
        assert_eq!(i32::from(uapi::NFULA_PACKET_HDR), libc::NFULA_PACKET_HDR);
        assert_eq!(
            i32::from(uapi::NFULA_IFINDEX_INDEV),
            libc::NFULA_IFINDEX_INDEV
        );
        assert_eq!(
            i32::from(uapi::NFULA_IFINDEX_OUTDEV),
            libc::NFULA_IFINDEX_OUTDEV
        );
        assert_eq!(i32::from(uapi::NFULA_PAYLOAD), libc::NFULA_PAYLOAD);
        assert_eq!(i32::from(uapi::NFULA_PREFIX), libc::NFULA_PREFIX);
        assert_eq!(
            i32::from(uapi::NFULNL_CFG_CMD_BIND),
            libc::NFULNL_CFG_CMD_BIND
        );
        assert_eq!(i32::from(uapi::NFULA_CFG_CMD), libc::NFULA_CFG_CMD);
        assert_eq!(i32::from(uapi::NFULA_CFG_MODE), libc::NFULA_CFG_MODE);
        assert_eq!(i32::from(uapi::NFULA_CFG_TIMEOUT), libc::NFULA_CFG_TIMEOUT);
        assert_eq!(i32::from(uapi::NFULA_CFG_QTHRESH), libc::NFULA_CFG_QTHRESH);
        assert_eq!(
            i32::from(uapi::NFULNL_COPY_PACKET),
            libc::NFULNL_COPY_PACKET
        );
        assert_eq!(i32::from(uapi::AF_INET), libc::AF_INET);
        assert_eq!(i32::from(uapi::AF_INET6), libc::AF_INET6);
        assert_eq!(uapi::NLMSG_HDRLEN, std::mem::size_of::<libc::nlmsghdr>());
        assert_eq!(uapi::NLA_HDRLEN, std::mem::size_of::<libc::nlattr>());
        assert_eq!(uapi::MSG_PACKET, 0x0400);
        assert_eq!(uapi::MSG_CONFIG, 0x0401);
    }

    #[test]
    fn config_messages_are_laid_out_like_the_kernel_expects() {
        let bind = config_message(7, 1, &[(uapi::NFULA_CFG_CMD, vec![1])]);
        // 16 header + 4 nfgenmsg + 8 (5-byte attribute padded to 4).
        assert_eq!(bind.len(), 28);
        assert_eq!(ne_u32(&bind[0..4]), 28);
        assert_eq!(ne_u16(&bind[4..6]), 0x0401);
        assert_eq!(ne_u16(&bind[6..8]), 0x05); // REQUEST | ACK
        assert_eq!(ne_u32(&bind[8..12]), 1);
        assert_eq!(&bind[16..20], &[0, 0, 0, 7]); // AF_UNSPEC, v0, be16 group
        assert_eq!(ne_u16(&bind[20..22]), 5);
        assert_eq!(ne_u16(&bind[22..24]), uapi::NFULA_CFG_CMD);
        assert_eq!(&bind[24..28], &[1, 0, 0, 0]);

        let cfg = Config {
            copy_range: 128,
            queue_threshold: 16,
            flush_timeout: Duration::from_millis(50),
            recv_buffer: None,
        };
        let msg = config_message(0x1234, 2, &config_attrs(&cfg));
        assert_eq!(&msg[18..20], &[0x12, 0x34]);
        // Mode: 4 + 6 bytes, padded to 12: be32 range, mode, pad.
        assert_eq!(ne_u16(&msg[20..22]), 10);
        assert_eq!(ne_u16(&msg[22..24]), uapi::NFULA_CFG_MODE);
        assert_eq!(&msg[24..30], &[0, 0, 0, 128, 2, 0]);
        assert_eq!(ne_u16(&msg[32..34]), 8);
        assert_eq!(ne_u16(&msg[34..36]), uapi::NFULA_CFG_QTHRESH);
        assert_eq!(&msg[36..40], &[0, 0, 0, 16]);
        assert_eq!(ne_u16(&msg[42..44]), uapi::NFULA_CFG_TIMEOUT);
        assert_eq!(&msg[44..48], &[0, 0, 0, 5]); // 50 ms = 5 centiseconds
        assert_eq!(msg.len(), 48);
        assert_eq!(ne_u32(&msg[0..4]), 48);
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
        buf.extend(nlmsg(uapi::NLMSG_DONE, 2, 0, &[0, 0, 0, 7]));
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
    fn acks_errors_and_overruns() {
        let mut err = (-16i32).to_ne_bytes().to_vec(); // -EBUSY
        err.extend(&nlmsg(uapi::MSG_CONFIG, 5, 9, &[0, 0, 0, 7])[..16]);
        let mut buf = nlmsg(uapi::NLMSG_ERROR, 0, 9, &err);
        let mut ack = 0i32.to_ne_bytes().to_vec();
        ack.extend(&nlmsg(uapi::MSG_CONFIG, 5, 10, &[])[..16]);
        buf.extend(nlmsg(uapi::NLMSG_ERROR, 0x100, 10, &ack));
        buf.extend(nlmsg(uapi::NLMSG_OVERRUN, 0, 0, &[]));
        buf.extend(nlmsg(uapi::NLMSG_NOOP, 0, 0, &[]));
        // An error whose own header has seq 0: the request's header inside names it.
        let mut err = (-1i32).to_ne_bytes().to_vec();
        err.extend(&nlmsg(uapi::MSG_CONFIG, 5, 11, &[])[..16]);
        buf.extend(nlmsg(uapi::NLMSG_ERROR, 0, 0, &err));
        // Too short to hold the error code.
        buf.extend(nlmsg(uapi::NLMSG_ERROR, 0, 12, &[1, 2]));
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
        let mut body = vec![2, 0, 0, 7];
        body.extend(attr(uapi::NFULA_PREFIX, b"x\0"));
        let buf = nlmsg(uapi::MSG_PACKET, 0, 0, &body);
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
        // ICMP has none either.
        let h = parse_ip(&ipv4(1, [1, 0, 0, 1], [1, 0, 0, 2], 0, &[8, 0, 0, 0])).unwrap();
        assert_eq!((h.protocol, h.ports), (1, None));
        // Options: IHL 6 (24 bytes).
        let mut p = ipv4(6, [1, 0, 0, 1], [1, 0, 0, 2], 0, &[]);
        p[0] = 0x46;
        p.extend_from_slice(&[1, 1, 1, 0]);
        p.extend(l4ports(1000, 2000));
        assert_eq!(parse_ip(&p).unwrap().ports, Some((1000, 2000)));
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
        let mut body = vec![2, 0, 0, 7];
        body.extend(attr(uapi::NFULA_PREFIX | (1 << 14), b"flagged\0"));
        body.extend(attr(
            uapi::NFULA_PAYLOAD,
            &ipv4(17, [1, 0, 0, 1], [1, 0, 0, 2], 0, &l4ports(1, 2)),
        ));
        let p = packets_of(&nlmsg(uapi::MSG_PACKET, 0, 0, &body));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].prefix, "flagged");
        assert_eq!((p[0].hook, p[0].indev), (None, None));
    }
}
