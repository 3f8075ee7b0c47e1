//! Pod-to-pod TCP throughput (iperf3) and new-connection rate across two nodes (host-gw), with
//! no policy and with 100 policies selecting the server pod.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use netbed::NamedNs;

use super::{attach_pod, iperf, wait, Agent};
use super::{enter, list, nft, pod_json, policy_json, put, start_agent, two_nodes};

/// Two nodes (host-gw), a server pod on node 1, a client pod on node 2.
pub fn run() {
    let secs = std::env::var("BENCH_IPERF_SECONDS").unwrap_or_else(|_| "5".into());
    println!("Pod-to-pod across two nodes (host-gw, iperf3 {secs} s, one stream; connections: 2 s of connect/accept/close):");
    for with_policies in [false, true] {
        let (_sw, dir, nodes) = two_nodes("lbq");
        let objs = dir.join("objects");
        let agents: Vec<Agent> = nodes
            .iter()
            .enumerate()
            .map(|(k, ns)| start_agent(ns, &dir, &format!("n{}", k + 1), true))
            .collect();
        let pods: Vec<(NamedNs, String)> = (0..2).map(|k| attach(&nodes[k], &dir, k)).collect();
        put(
            &objs,
            "ns.json",
            r#"{"kind":"Namespace","metadata":{"name":"b","labels":{"team":"t"}}}"#,
        );
        put(
            &objs,
            "srv.json",
            &pod_json("b", "srv", "n1", &pods[0].1, "srv"),
        );
        put(
            &objs,
            "cli.json",
            &pod_json("b", "cli", "n2", &pods[1].1, "client"),
        );
        assert!(wait(Duration::from_secs(10), || pods[1]
            .0
            .ping(&pods[0].1, 1)
            .unwrap_or(false)));
        if with_policies {
            put_hundred_policies(&objs, &nodes[0]);
        }
        let gbps = iperf(&pods[0].0, &pods[1].0, &pods[0].1, &secs);
        let rate = connection_rate(&pods[0].0, &pods[1].0, &pods[0].1);
        println!(
            "  {:<22} {gbps:>7.2} Gbit/s   {rate:>8.0} connections/s",
            if with_policies {
                "100 policies"
            } else {
                "policy on, no policies"
            }
        );
        drop(agents);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// 100 policies select the server; only the last admits the client (worst case: a new
/// connection tries all 100 chains). Returns once they are in `server_node`'s kernel.
fn put_hundred_policies(objs: &Path, server_node: &NamedNs) {
    let items: Vec<String> = (0..100)
        .map(|i| {
            let from = if i == 99 {
                "client".to_owned()
            } else {
                format!("nobody{i}")
            };
            policy_json("b", i, "srv", &from)
                .replace(r#"{"port":"http"},"#, r#"{"port":5201},{"port":7000},"#)
        })
        .collect();
    put(objs, "policies.json", &list(&items));
    let ok = wait(Duration::from_secs(10), || {
        nft(
            server_node,
            &["list", "chain", "inet", "lichen-policy", "ingress/b/p99"],
        )
        .contains("accept")
    });
    assert!(ok, "policies not applied");
}

fn attach(node: &NamedNs, dir: &Path, k: usize) -> (NamedNs, String) {
    let env = dir.join(format!("n{}.env", k + 1));
    let name = netbed::unique_name("lbq", &format!("pod{k}"));
    attach_pod(node, &env, &dir.join(format!("n{k}-ipam")), &name)
}

/// New TCP connections per second (connect, read one byte, close) for 2 s, one client.
fn connection_rate(server: &NamedNs, client: &NamedNs, ip: &str) -> f64 {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    let stop = &stop;
    std::thread::scope(|s| {
        let l = s
            .spawn(|| {
                enter(server);
                TcpListener::bind("0.0.0.0:7000").unwrap()
            })
            .join()
            .unwrap();
        s.spawn(move || {
            for mut c in l.incoming().flatten() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = c.write_all(b"x");
            }
        });
        let addr = format!("{ip}:7000").parse().unwrap();
        let n = s
            .spawn(move || {
                enter(client);
                let t = Instant::now();
                let mut n = 0u64;
                while t.elapsed() < Duration::from_secs(2) {
                    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).unwrap();
                    n += 1;
                }
                // unblock the accept loop
                stop.store(true, Ordering::Relaxed);
                drop(TcpStream::connect(addr));
                n
            })
            .join()
            .unwrap();
        n as f64 / 2.0
    })
}
