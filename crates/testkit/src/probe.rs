//! Servers in pod namespaces and reachability probes: TCP connects and UDP echoes from one
//! namespace to an address, with a short timeout (a policy drop is silence, not a refusal).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
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

/// Serves TCP `tcp` ports (accept, write "ok", close) and UDP `udp` ports (echo) in `ns`, on
/// background threads that live as long as the test process.
pub fn serve(ns: &NamedNs, tcp: &[u16], udp: &[u16]) {
    for &port in tcp {
        let path = ns.path.clone();
        let l = std::thread::spawn(move || {
            enter(&path);
            TcpListener::bind(("0.0.0.0", port)).unwrap()
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
            UdpSocket::bind(("0.0.0.0", port)).unwrap()
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

/// Whether a connection from namespace `from` to `ip:port` gets through (TCP: connected and
/// the server's "ok" read; UDP: the echo came back).
pub fn reach(from: &std::path::Path, ip: &str, port: u16, proto: Proto) -> bool {
    let from = from.to_owned();
    let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
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

/// From the calling thread's namespace: whether a UDP datagram to `addr` comes back (two
/// tries, `timeout` each: the first datagram may wait for ARP).
pub fn echoes(addr: SocketAddr, timeout: Duration) -> bool {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    (0..2).any(|_| {
        s.send_to(b"ping", addr).unwrap();
        let mut buf = [0u8; 8];
        matches!(s.recv_from(&mut buf), Ok((4, _)))
    })
}
