//! `lichen demo`: Lichen's main job on an embedded default, on this machine only.
//!
//! Builds a node namespace with two pod namespaces, runs ADD for both exactly as a runtime would
//! (this very binary, with CNI_* set and the config on stdin, inside the node's namespace), shows
//! the pods' addresses and a ping between them, runs DEL and removes everything. Nothing is done
//! in the namespace the demo is started from.

use std::io;
use std::path::Path;

use crate::cni::CniResult;
use crate::testbed::{self, Invocation, NamedNs};

const NETWORK: &str = "lichen-demo";

fn config(data_dir: &Path) -> String {
    format!(
        r#"{{"cniVersion":"1.1.0","name":"{NETWORK}","type":"lichen","bridge":"lichen0","ipam":{{"ranges":[[{{"subnet":"10.244.1.0/24"}}]],"dataDir":"{}"}}}}"#,
        data_dir.display()
    )
}

pub fn run(keep: bool) -> i32 {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lichen demo: needs root (it creates network namespaces); run it with sudo");
        return 1;
    }
    match demo(keep) {
        Ok(()) => {
            println!(
                "demo: done, everything removed{}",
                if keep {
                    " (except the kept namespaces)"
                } else {
                    ""
                }
            );
            0
        }
        Err(e) => {
            eprintln!("lichen demo: {e}");
            1
        }
    }
}

fn demo(keep: bool) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let work = std::env::temp_dir().join(format!("lichen-demo-{}", std::process::id()));
    let _cleanup = RemoveDir(&work);
    let conf = config(&work.join("ipam"));

    let mut node = NamedNs::create(&testbed::unique_name("lichen-demo", "node"))?;
    let mut pods = [
        NamedNs::create(&testbed::unique_name("lichen-demo", "pod1"))?,
        NamedNs::create(&testbed::unique_name("lichen-demo", "pod2"))?,
    ];
    println!(
        "demo: node namespace {}, pods {} and {}",
        node.name, pods[0].name, pods[1].name
    );
    if keep {
        node.keep();
        pods.iter_mut().for_each(NamedNs::keep);
    }

    let mut addrs = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let id = format!("demo-pod-{}", i + 1);
        let ans = testbed::invoke(&exe, &node, &cni("ADD", &id, Some(&pod.path), &conf))?;
        if !ans.ok {
            return Err(io::Error::other(format!(
                "ADD {id} failed: {}{}",
                ans.stdout, ans.stderr
            )));
        }
        let res = CniResult::parse(ans.stdout.as_bytes())
            .map_err(|e| io::Error::other(format!("ADD {id}: unreadable result: {e}")))?;
        let ip = res
            .ips
            .first()
            .ok_or_else(|| io::Error::other("ADD returned no IP"))?;
        println!(
            "demo: ADD {id} -> eth0 {} gateway {}",
            ip.address,
            ip.gateway.map(|g| g.to_string()).unwrap_or_default()
        );
        addrs.push(ip.address.addr().to_string());
    }

    for (from, to) in [(0, 1), (1, 0)] {
        let ok = pods[from].ping(&addrs[to], 3)?;
        println!(
            "demo: ping {} -> {}: {}",
            addrs[from],
            addrs[to],
            if ok { "ok" } else { "FAILED" }
        );
        if !ok {
            return Err(io::Error::other("pods cannot reach each other"));
        }
    }

    if !keep {
        for (i, pod) in pods.iter().enumerate() {
            let id = format!("demo-pod-{}", i + 1);
            let ans = testbed::invoke(&exe, &node, &cni("DEL", &id, Some(&pod.path), &conf))?;
            if !ans.ok {
                return Err(io::Error::other(format!("DEL {id} failed: {}", ans.stdout)));
            }
            println!("demo: DEL {id}: ok");
        }
    }
    Ok(())
}

fn cni<'a>(
    command: &'a str,
    id: &'a str,
    netns: Option<&'a Path>,
    conf: &'a str,
) -> Invocation<'a> {
    Invocation {
        command,
        container_id: id,
        netns,
        ifname: "eth0",
        config: conf,
        cni_path: "/opt/cni/bin:/usr/lib/cni",
        extra_env: Vec::new(),
    }
}

struct RemoveDir<'a>(&'a Path);

impl Drop for RemoveDir<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0);
    }
}
