//! The probes the churn test starts at once (when both agents enforce a change, and at
//! change + [`super::bed::EARLY`]); the kernel noise is testkit's ([`testkit::noise`]).

use std::net::SocketAddr;
use std::time::Instant;

use super::bed::PROBE;
use super::common::probe::{enter, Proto};

/// Probes from one namespace: (cell, address, protocol).
pub type Probes = Vec<(usize, SocketAddr, Proto)>;

/// Starts a thread in `scope` that enters the namespace at `from`, waits for `start` (false:
/// probe nothing) and then starts all `probes` (cell, address, protocol) at once (a local
/// executor: the sockets are made on that thread, in that namespace). Joins to (cell,
/// reached, when the probe started).
pub fn spawn_probes<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    from: std::path::PathBuf,
    probes: Probes,
    start: impl FnOnce() -> bool + Send + 's,
) -> std::thread::ScopedJoinHandle<'s, Vec<(usize, bool, Instant)>> {
    scope.spawn(move || {
        enter(&from);
        if !start() {
            return Vec::new();
        }
        let ex = smol::LocalExecutor::new();
        let tasks: Vec<_> = probes
            .into_iter()
            .map(|(i, addr, proto)| {
                ex.spawn(async move {
                    let started = Instant::now();
                    (i, probe(addr, proto).await, started)
                })
            })
            .collect();
        smol::block_on(ex.run(async {
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await);
            }
            out
        }))
    })
}

/// A UDP socket on a source port no earlier probe of this process used
/// ([`testkit::probe::fresh_udp_socket`]). A probe must be a new flow: with a kernel-chosen
/// port, a probe now and then reused the 4-tuple of an earlier probe made while the cell was
/// allowed, whose conntrack entry (up to 120 s for a replied UDP flow) is still there, and
/// passed as an established flow where policy denies new ones (seen once in CI: the e2e
/// sequence's default-deny-all, one UDP cell of 144).
fn fresh_udp_socket(addr: SocketAddr) -> smol::net::UdpSocket {
    let s = testkit::probe::fresh_udp_socket(addr);
    smol::net::UdpSocket::try_from(s).expect("a nonblocking UDP socket")
}

/// One probe from the current thread's namespace, started at once: TCP connect and the
/// server's "ok", or a UDP echo (two tries); [`PROBE`] each. A drop is silence.
pub async fn probe(addr: SocketAddr, proto: Proto) -> bool {
    use smol::future::FutureExt;
    use smol::io::AsyncReadExt;
    let timeout = || async {
        smol::Timer::after(PROBE).await;
        false
    };
    match proto {
        Proto::Tcp => {
            async {
                let Ok(mut c) = smol::net::TcpStream::connect(addr).await else {
                    return false;
                };
                let mut buf = [0u8; 2];
                c.read_exact(&mut buf).await.is_ok() && &buf == b"ok"
            }
            .or(timeout())
            .await
        }
        Proto::Udp => {
            let s = fresh_udp_socket(addr);
            for _ in 0..2 {
                s.send_to(b"ping", addr).await.unwrap();
                let echo = async {
                    let mut buf = [0u8; 8];
                    matches!(s.recv_from(&mut buf).await, Ok((4, _)))
                };
                if echo.or(timeout()).await {
                    return true;
                }
            }
            false
        }
    }
}
