//! One probe: a real TCP connect, UDP echo or SCTP INIT from a socket created inside the
//! source namespace.

use std::io::{self, ErrorKind, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use socket2::{Domain, Protocol as SockProto, Socket, Type};

use crate::listen::{SctpBoard, IPPROTO_SCTP};
use crate::ns::Worker;
use crate::{sctp, Protocol, Verdict};

/// Source ports are handed out in turn from this range, so that a probe never reuses the
/// 5-tuple (and so the conntrack entry) of an earlier probe of the same run: a reused UDP
/// tuple would match `ct state established` and hide a new drop rule.
const SOURCE_PORTS: std::ops::Range<u32> = 20_000..61_000;
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);
static NEXT_TAG: AtomicU32 = AtomicU32::new(0);

fn next_port() -> u16 {
    let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    (SOURCE_PORTS.start + n % (SOURCE_PORTS.end - SOURCE_PORTS.start)) as u16
}

/// A non-zero SCTP initiate tag, unique within the process.
fn next_tag() -> u32 {
    loop {
        let t = NEXT_TAG
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9)
            .rotate_left(7);
        if t != 0 {
            return t;
        }
    }
}

/// What went wrong with a probe that is neither a pass nor a silent drop.
pub enum Failure {
    /// An active refusal: TCP RST or an ICMP error.
    Rejected(String),
    /// The harness itself failed (socket calls, a mangled packet).
    Harness(String),
}

pub struct Ctx<'a> {
    pub worker: &'a Worker,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub port: u16,
    pub timeout: Duration,
    pub board: &'a SctpBoard,
}

pub fn run(protocol: Protocol, c: &Ctx<'_>) -> Result<Verdict, Failure> {
    let r = match protocol {
        Protocol::Tcp => tcp(c),
        Protocol::Udp => udp(c),
        Protocol::Sctp => sctp(c),
    };
    match r {
        Ok(v) => Ok(v),
        Err(Failure::Harness(m)) => Err(Failure::Harness(m)),
        Err(Failure::Rejected(m)) => Ok(Verdict::Rejected(m)),
    }
}

fn harness(what: &str) -> impl Fn(io::Error) -> Failure + '_ {
    move |e| Failure::Harness(format!("{what}: {e}"))
}

fn socket(c: &Ctx<'_>, ty: Type, proto: SockProto) -> Result<Socket, Failure> {
    let domain = Domain::for_address(SocketAddr::new(c.dst, 0));
    c.worker
        .run(move || Socket::new(domain, ty, Some(proto)))
        .map_err(harness("creating a socket in the source namespace"))
}

fn bind_source(sock: &Socket, src: IpAddr) -> Result<(), Failure> {
    for _ in 0..64 {
        match sock.bind(&SocketAddr::new(src, next_port()).into()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(Errno::EADDRINUSE as i32) => continue,
            Err(e) => return Err(harness("binding the source address")(e)),
        }
    }
    sock.bind(&SocketAddr::new(src, 0).into())
        .map_err(harness("binding the source address"))
}

/// Classifies an error of connect, send or recv.
fn classify(e: io::Error, what: &str) -> Result<Verdict, Failure> {
    if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) {
        return Ok(Verdict::Dropped);
    }
    match e.raw_os_error().map(Errno::from_raw) {
        // A local OUTPUT hook dropped the packet: sendmsg fails with EPERM.
        Some(Errno::EPERM) => Ok(Verdict::Dropped),
        Some(Errno::ECONNREFUSED) => Err(Failure::Rejected(format!(
            "{what}: connection refused (TCP RST or ICMP port unreachable)"
        ))),
        Some(Errno::EHOSTUNREACH | Errno::ENETUNREACH | Errno::EACCES | Errno::EPROTO) => {
            Err(Failure::Rejected(format!("{what}: ICMP error: {e}")))
        }
        _ => Err(Failure::Harness(format!("{what}: {e}"))),
    }
}

fn tcp(c: &Ctx<'_>) -> Result<Verdict, Failure> {
    let sock = socket(c, Type::STREAM, SockProto::TCP)?;
    // Close with RST: no TIME_WAIT left behind in the source namespace.
    sock.set_linger(Some(Duration::ZERO))
        .map_err(harness("SO_LINGER"))?;
    // Queue ICMP errors on the socket. Over veths the whole path runs synchronously inside
    // connect(), so an ICMP error to the SYN can arrive while connect() still holds the
    // socket lock; TCP then keeps it only as a "soft" error (TcpExtLockDroppedIcmps) and
    // connect() would just time out. The error queue keeps it either way.
    set_recv_err(&sock, c.dst)?;
    bind_source(&sock, c.src)?;
    sock.set_nonblocking(true).map_err(harness("O_NONBLOCK"))?;
    let deadline = Instant::now() + c.timeout;
    match sock.connect(&SocketAddr::new(c.dst, c.port).into()) {
        Ok(()) => return Ok(Verdict::Allowed),
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(e) => return classify(e, "TCP connect"),
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // An ICMP error kept as a soft error still shows up here.
            if let Some(e) = sock.take_error().map_err(harness("SO_ERROR"))? {
                return classify(e, "TCP connect");
            }
            return Ok(Verdict::Dropped);
        }
        let ms = u32::try_from(left.as_millis() + 1).unwrap_or(u32::MAX);
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
        match poll(&mut fds, timeout) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Failure::Harness(format!("poll: {e}"))),
        }
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if let Some(e) = sock.take_error().map_err(harness("SO_ERROR"))? {
            return classify(e, "TCP connect");
        }
        if revents.contains(PollFlags::POLLERR) {
            if let Some((icmp, _)) = queued_icmp_error(&sock) {
                return Err(Failure::Rejected(format!("TCP connect: {icmp}")));
            }
        }
        if revents.contains(PollFlags::POLLOUT) {
            return Ok(Verdict::Allowed);
        }
        if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            return Err(Failure::Harness(format!(
                "TCP connect: poll reported {revents:?} without an error"
            )));
        }
    }
}

/// Turns on IP_RECVERR / IPV6_RECVERR: ICMP errors are queued on the socket.
fn set_recv_err(sock: &Socket, dst: IpAddr) -> Result<(), Failure> {
    match dst {
        IpAddr::V4(_) => setsockopt(sock, sockopt::Ipv4RecvErr, &true),
        IpAddr::V6(_) => setsockopt(sock, sockopt::Ipv6RecvErr, &true),
    }
    .map_err(|e| Failure::Harness(format!("IP_RECVERR: {e}")))
}

/// Reads one ICMP error from the socket's error queue (IP_RECVERR / IPV6_RECVERR): a
/// description and the bytes of the offending packet the kernel queued with it.
fn queued_icmp_error(sock: &Socket) -> Option<(String, Vec<u8>)> {
    let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
    let mut buf = [0u8; 512];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
    )
    .ok()?;
    let payload = msg
        .iovs()
        .next()
        .map(|b| b[..msg.bytes.min(b.len())].to_vec())
        .unwrap_or_default();
    let describe = |e: &libc::sock_extended_err, from: String, v6: bool| {
        let errno = io::Error::from_raw_os_error(e.ee_errno as i32);
        let icmp = if v6 { "ICMPv6" } else { "ICMP" };
        format!(
            "{icmp} type {} code {} from {from} ({errno})",
            e.ee_type, e.ee_code
        )
    };
    for c in msg.cmsgs().ok()? {
        match c {
            ControlMessageOwned::Ipv4RecvErr(e, from) => {
                let from = from.map_or("?".to_string(), |a| {
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)).to_string()
                });
                return Some((describe(&e, from, false), payload));
            }
            ControlMessageOwned::Ipv6RecvErr(e, from) => {
                let from = from.map_or("?".to_string(), |a| {
                    Ipv6Addr::from(a.sin6_addr.s6_addr).to_string()
                });
                return Some((describe(&e, from, true), payload));
            }
            _ => {}
        }
    }
    None
}

fn udp(c: &Ctx<'_>) -> Result<Verdict, Failure> {
    let sock = socket(c, Type::DGRAM, SockProto::UDP)?;
    bind_source(&sock, c.src)?;
    // Connected, so that an ICMP error for the datagram is reported by recv.
    sock.connect(&SocketAddr::new(c.dst, c.port).into())
        .map_err(harness("UDP connect"))?;
    let sock: UdpSocket = sock.into();
    let deadline = Instant::now() + c.timeout;
    let nonce = format!("netfence-probe {}", next_tag());
    if let Err(e) = sock.send(nonce.as_bytes()) {
        return classify(e, "UDP send");
    }
    let mut buf = [0u8; 128];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Verdict::Dropped);
        }
        sock.set_read_timeout(Some(left))
            .map_err(harness("SO_RCVTIMEO"))?;
        match sock.recv(&mut buf) {
            Ok(n) if &buf[..n] == nonce.as_bytes() => return Ok(Verdict::Allowed),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return classify(e, "UDP echo"),
        }
    }
}

fn sctp(c: &Ctx<'_>) -> Result<Verdict, Failure> {
    let sock = socket(c, Type::RAW, SockProto::from(IPPROTO_SCTP))?;
    set_recv_err(&sock, c.dst)?;
    sock.bind(&SocketAddr::new(c.src, 0).into())
        .map_err(harness("binding the raw SCTP socket"))?;
    let tag = next_tag();
    let sport = next_port();
    let packet = sctp::init_packet(sport, c.port, tag);
    let deadline = Instant::now() + c.timeout;
    c.board.register(tag);
    let sent = sock.send_to(&packet, &SocketAddr::new(c.dst, 0).into());
    let arrival = match sent {
        Ok(_) => c.board.wait(tag, deadline),
        Err(_) => None,
    };
    c.board.unregister(tag);
    if let Err(e) = sent {
        return classify(e, "sending the SCTP INIT");
    }
    let Some(a) = arrival else {
        // No INIT arrived: a `reject` would have sent an ICMP error, queued on this raw
        // socket (IP_RECVERR). Every raw socket of the namespace whose addresses match
        // gets a copy, so only an error quoting this probe's initiate tag counts.
        while let Some((icmp, quoted)) = queued_icmp_error(&sock) {
            if quoted.windows(4).any(|w| w == tag.to_be_bytes()) {
                return Err(Failure::Rejected(format!("SCTP INIT: {icmp}")));
            }
        }
        return Ok(Verdict::Dropped);
    };
    if a.dst != c.dst || a.src != c.src || a.init.dport != c.port || a.init.sport != sport {
        return Err(Failure::Harness(format!(
            "SCTP INIT arrived mangled: {}:{} -> {}:{} (sent {}:{sport} -> {}:{})",
            a.src, a.init.sport, a.dst, a.init.dport, c.src, c.dst, c.port
        )));
    }
    if !a.init.checksum_ok {
        return Err(Failure::Harness(
            "SCTP INIT arrived with a bad CRC32c".into(),
        ));
    }
    Ok(Verdict::Allowed)
}
