//! Listeners: TCP sockets that accept, UDP sockets that echo, and raw protocol-132 sockets
//! that report SCTP INITs. All of one namespace are served by one thread polling them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};

use crate::sctp;
use crate::{Error, Result};

/// The IP protocol number of SCTP.
pub const IPPROTO_SCTP: i32 = 132;

/// The ports one address listens on.
#[derive(Debug, Clone)]
pub struct Ports {
    pub tcp: Vec<u16>,
    pub udp: Vec<u16>,
    pub sctp: Vec<u16>,
}

/// Creates (in the calling thread's namespace) every listener socket of `addrs`.
pub fn create(addrs: &[IpAddr], ports: &Ports) -> std::io::Result<Vec<Listener>> {
    let mut out = Vec::new();
    for &addr in addrs {
        let domain = Domain::for_address(SocketAddr::new(addr, 0));
        for &port in &ports.tcp {
            let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.set_reuse_address(true)?;
            s.bind(&SocketAddr::new(addr, port).into())
                .map_err(|e| annotate(e, "bind TCP", addr, port))?;
            s.listen(1024)?;
            s.set_nonblocking(true)?;
            out.push(Listener::Tcp(s.into()));
        }
        for &port in &ports.udp {
            let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.bind(&SocketAddr::new(addr, port).into())
                .map_err(|e| annotate(e, "bind UDP", addr, port))?;
            s.set_nonblocking(true)?;
            out.push(Listener::Udp(s.into()));
        }
        if !ports.sctp.is_empty() {
            // One raw socket per address sees every SCTP packet delivered to it (after the
            // INPUT hook); binding it to the address filters on the destination.
            let s = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_SCTP)))?;
            s.bind(&SocketAddr::new(addr, 0).into())
                .map_err(|e| annotate(e, "bind raw SCTP", addr, 0))?;
            s.set_nonblocking(true)?;
            out.push(Listener::Sctp(s.into(), addr));
        }
    }
    Ok(out)
}

fn annotate(e: std::io::Error, what: &str, addr: IpAddr, port: u16) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("{what} {}: {e}", SocketAddr::new(addr, port)),
    )
}

pub enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
    /// A raw socket of protocol 132 bound to this local address. It is held as a
    /// `UdpSocket` only for its safe `recv_from` (any datagram socket of AF_INET or AF_INET6
    /// reads the same way); it is not a UDP socket.
    Sctp(UdpSocket, IpAddr),
}

/// One INIT that reached a destination.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub init: sctp::InitSeen,
}

/// Where SCTP listeners report INITs of the probes waiting for them, keyed by the INIT's
/// initiate tag (unique per probe). Arrivals for tags nobody waits for are ignored.
#[derive(Default)]
pub struct SctpBoard {
    waiting: Mutex<HashMap<u32, Option<Arrival>>>,
    arrived: Condvar,
}

impl SctpBoard {
    pub fn register(&self, tag: u32) {
        self.waiting.lock().unwrap().insert(tag, None);
    }

    pub fn unregister(&self, tag: u32) {
        self.waiting.lock().unwrap().remove(&tag);
    }

    fn report(&self, a: Arrival) {
        let mut w = self.waiting.lock().unwrap();
        if let Some(slot @ None) = w.get_mut(&a.init.initiate_tag) {
            *slot = Some(a);
            self.arrived.notify_all();
        }
    }

    /// Waits until the INIT with `tag` arrives or `deadline` passes.
    pub fn wait(&self, tag: u32, deadline: Instant) -> Option<Arrival> {
        let mut w = self.waiting.lock().unwrap();
        loop {
            if let Some(Some(a)) = w.get(&tag) {
                return Some(*a);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            w = self.arrived.wait_timeout(w, deadline - now).unwrap().0;
        }
    }
}

/// A thread serving the listeners of one namespace until dropped.
pub struct Server {
    wake: Option<UnixStream>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(
        name: &str,
        listeners: Vec<Listener>,
        board: std::sync::Arc<SctpBoard>,
    ) -> Result<Server> {
        let (wake, sleeper) =
            UnixStream::pair().map_err(|e| Error::io("creating a wake-up socket pair", e))?;
        let handle = std::thread::Builder::new()
            .name(format!("listen-{name}"))
            .stack_size(256 * 1024)
            .spawn(move || serve(listeners, sleeper, &board))
            .map_err(|e| Error::io("spawning a listener thread", e))?;
        Ok(Server {
            wake: Some(wake),
            handle: Some(handle),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut w) = self.wake.take() {
            let _ = w.write_all(b"x");
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(listeners: Vec<Listener>, mut sleeper: UnixStream, board: &SctpBoard) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = Vec::with_capacity(listeners.len() + 1);
            fds.push(PollFd::new(sleeper.as_fd(), PollFlags::POLLIN));
            for l in &listeners {
                let fd = match l {
                    Listener::Tcp(s) => s.as_fd(),
                    Listener::Udp(s) | Listener::Sctp(s, _) => s.as_fd(),
                };
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => panic!("poll on listener sockets failed: {e}"),
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        if ready[0] {
            let mut b = [0u8; 1];
            let _ = sleeper.read(&mut b);
            return;
        }
        for (l, _) in listeners
            .iter()
            .zip(&ready[1..])
            .filter(|(_, &ready)| ready)
        {
            // Each loop ends at WouldBlock or at an error; a pending socket error (an ICMP
            // error quoting a probe sent from this address reaches the raw listener too)
            // is cleared so that poll does not report it forever.
            match l {
                Listener::Tcp(s) => {
                    // Accept and close at once: the handshake is what a probe checks.
                    while let Ok((conn, _)) = s.accept() {
                        drop(conn);
                    }
                    let _ = s.take_error();
                }
                Listener::Udp(s) => {
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                    let _ = s.take_error();
                }
                Listener::Sctp(s, local) => {
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        if let Some(a) = sctp_arrival(&buf[..n], from, *local) {
                            board.report(a);
                        }
                    }
                    let _ = s.take_error();
                }
            }
        }
    }
}

fn sctp_arrival(packet: &[u8], from: SocketAddr, local: IpAddr) -> Option<Arrival> {
    match local {
        IpAddr::V4(dst) => {
            // IPv4 raw sockets receive the IP header too.
            let ihl = usize::from(packet.first()? & 0x0f) * 4;
            if packet.len() < ihl || ihl < 20 || packet[9] != IPPROTO_SCTP as u8 {
                return None;
            }
            let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
            let to = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
            if to != dst {
                return None;
            }
            Some(Arrival {
                src: IpAddr::V4(src),
                dst: IpAddr::V4(dst),
                init: sctp::parse_init(&packet[ihl..])?,
            })
        }
        IpAddr::V6(dst) => {
            // IPv6 raw sockets receive the payload only; the socket is bound to `dst`.
            Some(Arrival {
                src: from.ip(),
                dst: IpAddr::V6(dst),
                init: sctp::parse_init(packet)?,
            })
        }
    }
}
