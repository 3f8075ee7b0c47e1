//! `lichen demo`: Lichen's main job on an embedded default, on this machine only.
//!
//! Builds a small cluster of network namespaces: a switch (the underlay, 198.51.100.0/24) and
//! three nodes, each running `lichen agent` from a shared cluster directory of Node objects.
//! On every node two pods are attached exactly as a runtime would (this very binary as the CNI
//! plugin, CNI_* set, the config on stdin, inside the node's namespace) through the agent's
//! subnet-file hand-off. It shows the pods' addresses, pings across every pair of nodes, runs DEL
//! and removes everything — once with the host-gw backend, once with VXLAN. Nothing is done in
//! the namespace the demo is started from.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::cni::CniResult;
use netbed::{AgentArgs, Invocation, NamedNs, Source, Underlay};

const NODES: usize = 3;
const PODS_PER_NODE: usize = 2;

pub fn run(keep: bool) -> i32 {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lichen demo: needs root (it creates network namespaces); run it with sudo");
        return 1;
    }
    for backend in ["host-gw", "vxlan"] {
        println!("\n== backend {backend}: {NODES} nodes, {PODS_PER_NODE} pods each");
        if let Err(e) = demo(backend, keep) {
            eprintln!("lichen demo: {e}");
            return 1;
        }
    }
    println!(
        "\ndemo: done, everything removed{}",
        if keep {
            " (except the kept namespaces)"
        } else {
            ""
        }
    );
    0
}

struct DemoNode {
    name: String,
    ns: NamedNs,
    agent: Option<Child>,
}

impl Drop for DemoNode {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

struct Pod {
    ns: NamedNs,
    id: String,
    ip: String,
    node: usize,
}

fn demo(backend: &str, keep: bool) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let work = std::env::temp_dir().join(format!("lichen-demo-{}-{backend}", std::process::id()));
    let _cleanup = RemoveDir(&work);
    let objects = work.join("cluster");
    fs::create_dir_all(&objects)?;
    fs::write(
        work.join("net-conf.json"),
        format!(r#"{{"Network":"10.244.0.0/16","Backend":{{"Type":"{backend}"}}}}"#),
    )?;

    let mut switch = Underlay::create(&netbed::unique_name("lichen-demo", "switch"))?;
    let mut nodes = Vec::new();
    for i in 1..=NODES {
        let name = format!("node{i}");
        let ns = NamedNs::create(&netbed::unique_name("lichen-demo", &name))?;
        let ip = format!("198.51.100.{}", 10 + i);
        switch.attach(&ns, "eth0", &format!("{ip}/24"), &format!("port{i}"))?;
        let node = netbed::node_json(&name, &format!("10.244.{i}.0/24"), &ip);
        fs::write(objects.join(format!("{name}.json")), node)?;
        println!(
            "demo: {name}: namespace {}, underlay {ip}, podCIDR 10.244.{i}.0/24",
            ns.name
        );
        nodes.push(DemoNode {
            name,
            ns,
            agent: None,
        });
    }
    if keep {
        switch.ns.keep();
    }
    for n in &mut nodes {
        if keep {
            n.ns.keep();
        }
        let mut c = n.ns.command(&exe)?;
        AgentArgs {
            node_name: &n.name,
            net_conf: &work.join("net-conf.json"),
            source: Source::ClusterDir(&objects),
            subnet_file: &subnet_file(&work, &n.name),
            ipam_dir: Some(&work.join(format!("{}-ipam", n.name))),
        }
        .apply(&mut c)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(
            work.join(format!("{}-agent.log", n.name)),
        )?);
        n.agent = Some(c.spawn()?);
    }
    for n in &nodes {
        let written = netbed::poll(Duration::from_secs(10), Duration::from_millis(50), || {
            subnet_file(&work, &n.name).exists()
        });
        if !written {
            return Err(io::Error::other(format!(
                "{}'s agent wrote no subnet file; its log:\n{}",
                n.name,
                log(&work, &n.name)
            )));
        }
    }
    println!("demo: agents running; each wrote its subnet file");

    let mut pods = Vec::new();
    for (k, n) in nodes.iter().enumerate() {
        for j in 1..=PODS_PER_NODE {
            let mut ns = NamedNs::create(&netbed::unique_name(
                "lichen-demo",
                &format!("{}-pod{j}", n.name),
            ))?;
            if keep {
                ns.keep();
            }
            let id = format!("{}-pod{j}", n.name);
            let ans = netbed::invoke(
                &exe,
                &n.ns,
                &cni("ADD", &id, &ns.path, &conf(&work, &n.name)),
            )?;
            if !ans.ok {
                return Err(io::Error::other(format!(
                    "ADD {id}: {}{}",
                    ans.stdout, ans.stderr
                )));
            }
            let res = CniResult::parse(ans.stdout.as_bytes())
                .map_err(|e| io::Error::other(format!("ADD {id}: {e}")))?;
            let ip = res
                .ips
                .first()
                .ok_or_else(|| io::Error::other("ADD returned no IP"))?;
            println!("demo: ADD {id:<12} -> eth0 {}", ip.address);
            pods.push(Pod {
                ns,
                id,
                ip: ip.address.addr().to_string(),
                node: k,
            });
        }
    }

    let mut failed = 0;
    for a in &pods {
        for b in pods.iter().filter(|b| b.node != a.node) {
            let ok = a.ns.ping(&b.ip, 1)?;
            failed += usize::from(!ok);
            println!(
                "demo: ping {:<12} -> {:<12} {:<11} {}",
                a.id,
                b.id,
                b.ip,
                if ok { "ok" } else { "FAILED" }
            );
        }
    }
    let status = nodes[0].ns.command(&exe)?.arg("status").output()?;
    println!("demo: `lichen status` on node1:");
    for l in String::from_utf8_lossy(&status.stdout).lines() {
        println!("    {l}");
    }
    if failed > 0 {
        return Err(io::Error::other(format!(
            "{failed} cross-node pings failed; agent log of node1:\n{}",
            log(&work, "node1")
        )));
    }

    if !keep {
        for p in &pods {
            let n = &nodes[p.node];
            let ans = netbed::invoke(
                &exe,
                &n.ns,
                &cni("DEL", &p.id, &p.ns.path, &conf(&work, &n.name)),
            )?;
            if !ans.ok {
                return Err(io::Error::other(format!("DEL {}: {}", p.id, ans.stdout)));
            }
        }
        println!("demo: DEL of all {} pods: ok", pods.len());
    }
    Ok(())
}

fn subnet_file(work: &Path, node: &str) -> PathBuf {
    work.join(format!("{node}-subnet.env"))
}

fn log(work: &Path, node: &str) -> String {
    fs::read_to_string(work.join(format!("{node}-agent.log"))).unwrap_or_default()
}

fn conf(work: &Path, node: &str) -> String {
    format!(
        r#"{{"cniVersion":"1.1.0","name":"demo","type":"lichen","bridge":"lichen0","subnetFile":"{}","ipam":{{"dataDir":"{}"}}}}"#,
        subnet_file(work, node).display(),
        work.join(format!("{node}-ipam")).display()
    )
}

fn cni<'a>(command: &'a str, id: &'a str, netns: &'a Path, conf: &'a str) -> Invocation<'a> {
    Invocation {
        command,
        container_id: id,
        netns: Some(netns),
        ifname: "eth0",
        config: conf,
        cni_path: "/opt/cni/bin:/usr/lib/cni",
        extra_env: Vec::new(),
    }
}

struct RemoveDir<'a>(&'a Path);

impl Drop for RemoveDir<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.0);
    }
}
