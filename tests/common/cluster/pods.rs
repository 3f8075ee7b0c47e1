//! Pods on a [`Cluster`]'s nodes, attached through the plugin with the node's subnet file, and
//! the traffic checks between them ([`full_mesh`], [`tcp_transfer`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

impl Cluster {
    /// A pod on node `k` attached through the plugin, with the node's subnet file hand-off.
    pub fn pod(&self, k: usize, tag: &str) -> (NamedNs, String) {
        let p = self.pod_attached(k, tag);
        let ip = first_ip(&p.result);
        (p.ns, ip)
    }

    /// The plugin config [`Cluster::pod`] attaches pods of node `k` with: the node's subnet file,
    /// its own IPAM data dir (`<dir>/<node>-ipam`, network `cluster`), in the cluster's
    /// [`Cluster::pod_mode`].
    pub fn pod_conf(&self, k: usize) -> String {
        format!(
            r#"{{"cniVersion":"1.1.0","name":"cluster","type":"lichen","mode":"{}","bridge":"lichen0","subnetFile":"{}","ipam":{{"dataDir":"{}"}}}}"#,
            self.pod_mode,
            self.subnet_file(k).display(),
            self.ipam_dir(k).display()
        )
    }

    /// Node `k`'s IPAM data dir (the leases are in its `cluster` directory).
    pub fn ipam_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("{}-ipam", self.nodes[k].name))
    }

    /// Runs the plugin's `verb` for `pod` on node `k` with `conf` (e.g. [`Cluster::pod_conf`],
    /// with a `prevResult` for CHECK).
    pub fn pod_cni(&self, k: usize, verb: &str, pod: &NamedNs, conf: &str) -> Answer {
        testkit::invoke(
            Path::new(BIN),
            &self.nodes[k].ns,
            &Invocation::pod(verb, pod, conf, REF_PLUGINS),
        )
        .unwrap()
    }

    /// Like [`Cluster::pod`], keeping the whole ADD result and every address. In a cluster with
    /// IPv6 the pod namespace has duplicate address detection off.
    pub fn pod_attached(&self, k: usize, tag: &str) -> Pod {
        let n = &self.nodes[k];
        let pod = NamedNs::create(&testkit::unique_name("lc", tag)).unwrap();
        if self.stack.has_v6() {
            no_dad(&pod);
        }
        wait_for(
            &format!("{}'s subnet file", n.name),
            Duration::from_secs(10),
            || self.subnet_file(k).exists(),
        );
        let ans = self.pod_cni(k, "ADD", &pod, &self.pod_conf(k));
        assert!(ans.ok, "ADD on {}: {} {}", n.name, ans.stdout, ans.stderr);
        let r = lichen::cni::CniResult::parse(ans.stdout.as_bytes()).expect("a readable result");
        let ips = r.ips.iter().map(|c| c.address.addr().to_string()).collect();
        Pod {
            ns: pod,
            result: ans.stdout,
            ips,
        }
    }
}

/// A pod [`Cluster::pod_attached`] made.
pub struct Pod {
    pub ns: NamedNs,
    /// The ADD result (stdout).
    pub result: String,
    /// Its addresses, in the result's order (without prefix).
    pub ips: Vec<String>,
}

/// A pod on every node.
pub fn pods_everywhere(c: &Cluster) -> Vec<(NamedNs, String)> {
    (0..c.nodes.len())
        .map(|k| c.pod(k, &format!("pod{k}")))
        .collect()
}

/// Every pod pings every pod on another node, and 1 MiB crosses each pair over TCP.
pub fn full_mesh(c: &Cluster, pods: &[(NamedNs, String)]) {
    for (a, (pa, ipa)) in pods.iter().enumerate() {
        for (b, (pb, ipb)) in pods.iter().enumerate() {
            if a == b {
                continue;
            }
            assert!(
                pa.ping(ipb, 3).unwrap(),
                "{} pod -> {} pod ({ipb})",
                c.nodes[a].name,
                c.nodes[b].name
            );
            let (n, peer) = tcp_transfer(pb, ipb, pa, 1 << 20);
            assert_eq!(n, 1 << 20, "TCP {} -> {}", c.nodes[a].name, c.nodes[b].name);
            assert_eq!(&peer, ipa, "pod-to-pod traffic keeps the pod address");
        }
    }
}

/// Sends `bytes` over TCP from `client` to a listener in `server` (port 5001) and returns what
/// the server received and the client address it saw.
pub fn tcp_transfer(
    server: &NamedNs,
    server_ip: &str,
    client: &NamedNs,
    bytes: usize,
) -> (usize, String) {
    let target = if server_ip.contains(':') {
        format!("[{server_ip}]:5001")
    } else {
        format!("{server_ip}:5001")
    };
    tcp_transfer_via(&server.path, &client.path, &target, bytes)
}

/// Like [`tcp_transfer`] between namespace files (e.g. `/proc/<pid>/ns/net`), the client
/// connecting to `target` (`ip:port` or `[ipv6]:port`, e.g. a host port mapped to the
/// listener's port 5001; the listener takes the unspecified address of the target's family).
pub fn tcp_transfer_via(
    server: &Path,
    client: &Path,
    target: &str,
    bytes: usize,
) -> (usize, String) {
    let any = if target.starts_with('[') {
        "[::]:5001"
    } else {
        "0.0.0.0:5001"
    };
    std::thread::scope(|s| {
        let listener = s
            .spawn(|| {
                probe::enter(server);
                bind_when_free(any, target)
            })
            .join()
            .unwrap();
        let srv = s.spawn(move || receive_all(listener));
        s.spawn(|| {
            use std::io::Write;
            probe::enter(client);
            let addr = target.parse().unwrap();
            let mut c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .expect("connect");
            c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(&vec![0x5au8; bytes]).expect("send");
        })
        .join()
        .unwrap();
        srv.join().unwrap()
    })
}

/// A listener on `any` (in the calling thread's namespace). The port may still be held for a
/// moment after the transfer before (seen between transfers of different families into one
/// namespace, back to back): by its closing connection, or by a copy of its listener that a
/// child another test thread forked just then holds until it execs (sockets are
/// close-on-exec). Waits for that, within a bound.
fn bind_when_free(any: &str, target: &str) -> std::net::TcpListener {
    let t = Instant::now();
    loop {
        match std::net::TcpListener::bind(any) {
            Ok(l) => break l,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && t.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("bind {any} for {target}: {e}"),
        }
    }
}

/// Accepts one connection and reads it to its end: the bytes received and the peer's address.
/// Bounded, so a client that cannot connect fails the test instead of hanging it.
fn receive_all(listener: std::net::TcpListener) -> (usize, String) {
    use std::io::Read;
    listener.set_nonblocking(true).unwrap();
    let t = Instant::now();
    let (mut conn, peer) = loop {
        match listener.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(t.elapsed() < Duration::from_secs(20), "no connection came");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut n = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => panic!("server read: {e} after {n} bytes"),
        }
    }
    (n, peer.ip().to_string())
}
