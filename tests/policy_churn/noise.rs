//! Kernel notification noise for the agents, and the probes the churn test starts at once
//! (when both agents enforce a change, and at change + [`super::bed::EARLY`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::bed::PROBE;
use super::common::cluster::Cluster;
use super::common::probe::{enter, Proto};

/// Kernel notifications the agents wake up for, all the time: a neighbour entry on each
/// node's bridge (an address of its pod subnet no pod has) changing its link-layer address
/// every few milliseconds, as ARP entries for busy pods change state under probe traffic.
/// Stops when dropped.
pub struct Noise {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Noise {
    pub fn start(c: &Cluster) -> Noise {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = c
            .nodes
            .iter()
            .map(|n| {
                let (ns, stop) = (n.ns.name.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ip = std::process::Command::new("ip")
                        .args(["-n", &ns, "-force", "-batch", "-"])
                        .stdin(std::process::Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut input = ip.stdin.take().unwrap();
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let line = match i {
                            1 => "link add noise0 type bridge\n".to_owned(),
                            _ => format!(
                                "addr {} 203.0.113.1/32 dev noise0\n",
                                if i % 2 == 0 { "add" } else { "del" }
                            ),
                        };
                        if input.write_all(line.as_bytes()).is_err() {
                            break;
                        }
                        let _ = input.flush();
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    drop(input);
                    let _ = ip.wait();
                })
            })
            .collect();
        Noise { stop, threads }
    }
}

impl Drop for Noise {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

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
            let s = smol::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
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
