//! `lichen demo`: Lichen's main job on an embedded default, on this machine only.
//!
//! Builds a small cluster of network namespaces: a switch (the underlay, 198.51.100.0/24) and
//! three nodes, each running `lichen agent` from a shared cluster directory of Node objects.
//! On every node two pods are attached exactly as a runtime would (this very binary as the CNI
//! plugin, CNI_* set, the config on stdin, inside the node's namespace) through the agent's
//! subnet-file hand-off. It shows the pods' addresses, pings across every pair of nodes, runs DEL
//! and removes everything — once with the host-gw backend, once with VXLAN, and once dual-stack
//! over VXLAN (IPv4 and IPv6 underlay addresses, pod subnets and pod addresses, every pod pinged
//! in both families). Nothing is done in the namespace the demo is started from.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::cni::CniResult;
use netbed::{AgentArgs, Invocation, NamedNs, Source, Underlay};

const NODES: usize = 3;
const PODS_PER_NODE: usize = 2;

/// The runs, in order: (backend, dual-stack).
const RUNS: [(&str, bool); 3] = [("host-gw", false), ("vxlan", false), ("vxlan", true)];
/// The dual-stack run's IPv6 cluster network; node `i` gets `2001:db8:244:<i>::/64`.
const NETWORK6: &str = "2001:db8:244::/48";

pub fn run(keep: bool) -> i32 {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lichen demo: needs root (it creates network namespaces); run it with sudo");
        return 1;
    }
    for (backend, dual) in RUNS {
        let stack = if dual { "dual-stack, " } else { "" };
        println!("\n== {stack}backend {backend}: {NODES} nodes, {PODS_PER_NODE} pods each");
        if let Err(e) = demo(backend, dual, keep) {
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
    /// One address per family.
    ips: Vec<String>,
    node: usize,
}

/// One run of the demo: where its files are, this binary, and whether to keep the namespaces.
struct Demo {
    exe: PathBuf,
    work: PathBuf,
    keep: bool,
    /// IPv6 beside IPv4 everywhere.
    dual: bool,
}

fn demo(backend: &str, dual: bool, keep: bool) -> io::Result<()> {
    let tag = if dual { "-dual" } else { "" };
    let d = Demo {
        exe: std::env::current_exe()?,
        work: std::env::temp_dir()
            .join(format!("lichen-demo-{}-{backend}{tag}", std::process::id())),
        keep,
        dual,
    };
    let _cleanup = RemoveDir(&d.work);
    fs::create_dir_all(d.objects())?;
    let v6 = if dual {
        format!(r#","EnableIPv6":true,"IPv6Network":"{NETWORK6}""#)
    } else {
        String::new()
    };
    fs::write(
        d.work.join("net-conf.json"),
        format!(r#"{{"Network":"10.244.0.0/16"{v6},"Backend":{{"Type":"{backend}"}}}}"#),
    )?;
    let (_switch, mut nodes) = d.make_nodes()?;
    for n in &mut nodes {
        n.agent = Some(d.spawn_agent(n)?);
    }
    d.wait_for_subnets(&nodes)?;
    println!("demo: agents running; each wrote its subnet file");
    let pods = d.add_pods(&nodes)?;
    let failed = d.ping_across_nodes(&pods)?;
    let status = nodes[0].ns.command(&d.exe)?.arg("status").output()?;
    println!("demo: `lichen status` on node1:");
    for l in String::from_utf8_lossy(&status.stdout).lines() {
        println!("    {l}");
    }
    if failed > 0 {
        return Err(io::Error::other(format!(
            "{failed} cross-node pings failed; agent log of node1:\n{}",
            log(&d.work, "node1")
        )));
    }
    if !keep {
        d.del_pods(&nodes, &pods)?;
    }
    Ok(())
}

impl Demo {
    fn objects(&self) -> PathBuf {
        self.work.join("cluster")
    }

    /// The underlay switch and the nodes on it, each with its Node object in the cluster dir.
    fn make_nodes(&self) -> io::Result<(Underlay, Vec<DemoNode>)> {
        let mut switch = Underlay::create(&netbed::unique_name("lichen-demo", "switch"))?;
        if self.dual {
            switch.flood_multicast()?;
        }
        let mut nodes = Vec::new();
        for i in 1..=NODES {
            let name = format!("node{i}");
            let mut ns = NamedNs::create(&netbed::unique_name("lichen-demo", &name))?;
            if self.keep {
                ns.keep();
            }
            let (ips, cidrs) = self.node_addresses(i);
            switch.attach(&ns, "eth0", "", &format!("port{i}"))?;
            for (ip, len) in ips.iter().zip(["/24", "/64"]) {
                ns.add_addr("eth0", &format!("{ip}{len}"))?;
            }
            let ip_refs: Vec<&str> = ips.iter().map(String::as_str).collect();
            let cidr_refs: Vec<&str> = cidrs.iter().map(String::as_str).collect();
            let node = netbed::node_json_stack(&name, &cidr_refs, &ip_refs);
            fs::write(self.objects().join(format!("{name}.json")), node)?;
            println!(
                "demo: {name}: namespace {}, underlay {}, podCIDRs {}",
                ns.name,
                ips.join(" "),
                cidrs.join(" ")
            );
            nodes.push(DemoNode {
                name,
                ns,
                agent: None,
            });
        }
        if self.keep {
            switch.ns.keep();
        }
        Ok((switch, nodes))
    }

    /// Node `i`'s underlay addresses and pod subnets, IPv4 first.
    fn node_addresses(&self, i: usize) -> (Vec<String>, Vec<String>) {
        let mut ips = vec![format!("198.51.100.{}", 10 + i)];
        let mut cidrs = vec![format!("10.244.{i}.0/24")];
        if self.dual {
            ips.push(format!("2001:db8:100::{}", 10 + i));
            cidrs.push(format!("2001:db8:244:{i}::/64"));
        }
        (ips, cidrs)
    }

    fn spawn_agent(&self, n: &DemoNode) -> io::Result<Child> {
        let mut c = n.ns.command(&self.exe)?;
        AgentArgs {
            node_name: &n.name,
            net_conf: &self.work.join("net-conf.json"),
            source: Source::ClusterDir(&self.objects()),
            subnet_file: &subnet_file(&self.work, &n.name),
            ipam_dir: Some(&self.work.join(format!("{}-ipam", n.name))),
        }
        .apply(&mut c)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(
            self.work.join(format!("{}-agent.log", n.name)),
        )?);
        c.spawn()
    }

    fn wait_for_subnets(&self, nodes: &[DemoNode]) -> io::Result<()> {
        for n in nodes {
            let written = netbed::poll(Duration::from_secs(10), Duration::from_millis(50), || {
                subnet_file(&self.work, &n.name).exists()
            });
            if !written {
                return Err(io::Error::other(format!(
                    "{}'s agent wrote no subnet file; its log:\n{}",
                    n.name,
                    log(&self.work, &n.name)
                )));
            }
        }
        Ok(())
    }

    /// ADD of every pod, as a runtime does it: this binary as the plugin, in the node's namespace.
    fn add_pods(&self, nodes: &[DemoNode]) -> io::Result<Vec<Pod>> {
        let mut pods = Vec::new();
        for (k, n) in nodes.iter().enumerate() {
            for j in 1..=PODS_PER_NODE {
                let id = format!("{}-pod{j}", n.name);
                let mut ns = NamedNs::create(&netbed::unique_name("lichen-demo", &id))?;
                if self.keep {
                    ns.keep();
                }
                let conf = conf(&self.work, &n.name);
                let ans = netbed::invoke(&self.exe, &n.ns, &cni("ADD", &id, &ns.path, &conf))?;
                if !ans.ok {
                    return Err(io::Error::other(format!(
                        "ADD {id}: {}{}",
                        ans.stdout, ans.stderr
                    )));
                }
                let res = CniResult::parse(ans.stdout.as_bytes())
                    .map_err(|e| io::Error::other(format!("ADD {id}: {e}")))?;
                if res.ips.len() != 1 + usize::from(self.dual) {
                    return Err(io::Error::other(format!(
                        "ADD {id}: addresses {:?}",
                        res.ips
                    )));
                }
                let shown: Vec<String> = res.ips.iter().map(|i| i.address.to_string()).collect();
                println!("demo: ADD {id:<12} -> eth0 {}", shown.join(" "));
                let ips = res.ips.iter().map(|i| i.address.addr().to_string());
                pods.push(Pod {
                    ns,
                    id,
                    ips: ips.collect(),
                    node: k,
                });
            }
        }
        Ok(pods)
    }

    /// Pings every pod on another node from every pod; returns how many failed.
    fn ping_across_nodes(&self, pods: &[Pod]) -> io::Result<usize> {
        let mut failed = 0;
        for a in pods {
            for b in pods.iter().filter(|b| b.node != a.node) {
                for ip in &b.ips {
                    let ok = a.ns.ping(ip, 1)?;
                    failed += usize::from(!ok);
                    println!(
                        "demo: ping {:<12} -> {:<12} {:<17} {}",
                        a.id,
                        b.id,
                        ip,
                        if ok { "ok" } else { "FAILED" }
                    );
                }
            }
        }
        Ok(failed)
    }

    fn del_pods(&self, nodes: &[DemoNode], pods: &[Pod]) -> io::Result<()> {
        for p in pods {
            let n = &nodes[p.node];
            let conf = conf(&self.work, &n.name);
            let ans = netbed::invoke(&self.exe, &n.ns, &cni("DEL", &p.id, &p.ns.path, &conf))?;
            if !ans.ok {
                return Err(io::Error::other(format!("DEL {}: {}", p.id, ans.stdout)));
            }
        }
        println!("demo: DEL of all {} pods: ok", pods.len());
        Ok(())
    }
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
