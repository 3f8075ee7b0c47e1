//! Servers in pod namespaces and reachability probes: TCP connects and UDP echoes from one
//! namespace to an address of either family, with a short timeout (a policy drop is silence,
//! not a refusal).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use netbed::NamedNs;

pub const PROBE_TIMEOUT: Duration = Duration::from_millis(700);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// Moves the calling thread into `path`'s network namespace.
pub fn enter(path: &std::path::Path) {
    let f = File::open(path).unwrap();
    // SAFETY: affects only the calling thread.
    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
}

/// Serves TCP `tcp` ports (accept, write "ok", close) and UDP `udp` ports (echo) in `ns` on
/// IPv4, on background threads that live as long as the test process.
pub fn serve(ns: &NamedNs, tcp: &[u16], udp: &[u16]) {
    serve_on(ns, Ipv4Addr::UNSPECIFIED.into(), tcp, udp)
}

/// Like [`serve`] on both families: bound to `::`, which takes IPv4 too (as IPv4-mapped
/// addresses) while `net.ipv6.bindv6only` is 0, the default of every network namespace.
pub fn serve_dual(ns: &NamedNs, tcp: &[u16], udp: &[u16]) {
    serve_on(ns, Ipv6Addr::UNSPECIFIED.into(), tcp, udp)
}

fn serve_on(ns: &NamedNs, any: IpAddr, tcp: &[u16], udp: &[u16]) {
    for &port in tcp {
        let path = ns.path.clone();
        let l = std::thread::spawn(move || {
            enter(&path);
            TcpListener::bind((any, port)).unwrap()
        })
        .join()
        .unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let _ = c.write_all(b"ok");
            }
        });
    }
    for &port in udp {
        let path = ns.path.clone();
        let s = std::thread::spawn(move || {
            enter(&path);
            UdpSocket::bind((any, port)).unwrap()
        })
        .join()
        .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&buf[..n], from);
            }
        });
    }
}

/// Whether a connection from namespace `from` to `ip:port` (IPv4 or IPv6) gets through (TCP:
/// connected and the server's "ok" read; UDP: the echo came back).
pub fn reach(from: &std::path::Path, ip: &str, port: u16, proto: Proto) -> bool {
    let from = from.to_owned();
    let ip: IpAddr = ip.parse().unwrap();
    let addr = SocketAddr::new(ip, port);
    std::thread::spawn(move || {
        enter(&from);
        match proto {
            Proto::Tcp => connects(addr, PROBE_TIMEOUT),
            Proto::Udp => echoes(addr, PROBE_TIMEOUT),
        }
    })
    .join()
    .unwrap()
}

/// From the calling thread's namespace: whether a TCP connection to `addr` is made and the
/// server's "ok" read, each within `timeout`.
pub fn connects(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut c) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    c.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).is_ok() && &buf == b"ok"
}

/// The next source port for a UDP probe: 10000–32767, below the kernel's ephemeral range
/// (32768–60999), so no port repeats within a test process. A probe must be a new flow: a kernel-chosen port may
/// repeat the 4-tuple of an earlier probe made while the path was allowed, whose conntrack
/// entry (up to 120 s for a replied UDP flow) outlives a deny and passes as established.
static NEXT_UDP_PORT: AtomicU16 = AtomicU16::new(10_000);

/// A UDP socket of `addr`'s family on a source port no earlier probe of this process used
/// ([`NEXT_UDP_PORT`]; a port some other socket holds is skipped).
pub fn fresh_udp_socket(addr: SocketAddr) -> UdpSocket {
    let any: IpAddr = match addr {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    loop {
        let port = NEXT_UDP_PORT.fetch_add(1, Ordering::Relaxed);
        assert!(port < 32_768, "out of fresh UDP source ports");
        match UdpSocket::bind((any, port)) {
            Ok(s) => return s,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("binding a UDP probe to port {port}: {e}"),
        }
    }
}

/// From the calling thread's namespace: whether a UDP datagram to `addr` comes back (two
/// tries, `timeout` each: the first datagram may wait for ARP or neighbour discovery), sent
/// from a fresh source port (a new flow, see [`NEXT_UDP_PORT`]).
pub fn echoes(addr: SocketAddr, timeout: Duration) -> bool {
    let s = fresh_udp_socket(addr);
    s.set_read_timeout(Some(timeout)).unwrap();
    (0..2).any(|_| {
        s.send_to(b"ping", addr).unwrap();
        let mut buf = [0u8; 8];
        matches!(s.recv_from(&mut buf), Ok((4, _)))
    })
}
