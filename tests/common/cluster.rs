//! A cluster of node namespaces on an L2 underlay ([`testkit::Underlay`]: a "switch" namespace
//! with a bridge), each node with its own agent, subnet file and IPAM dir, all from one cluster
//! dir of Node objects or (API mode, [`Cluster::with_api`]) from the test Kubernetes API server,
//! which then runs in an "api" namespace on the underlay at [`API_IP`]:6443. Optionally a router
//! namespace to a second L3 segment (a routed node or one behind a NAT: cluster/routed.rs), and
//! an "outside" host. IPv4 by default; dual-stack or IPv6-only with [`Cluster::with_stack`]
//! (cluster-dir mode). Its agents are driven from cluster/agents.rs, its pods from
//! cluster/pods.rs, its WireGuard nodes (keys, private mounts, `wg`) from cluster/wg.rs.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::Child;

use super::*;
pub use ::testkit::wait_for;

mod agents;
mod pods;
mod routed;
mod stack;
mod wg;
use ::testkit::Underlay;
#[allow(unused_imports)] // not every test uses pods or stacks
pub use pods::*;
#[allow(unused_imports)]
pub use stack::*;
#[allow(unused_imports)]
pub use wg::*;

pub const NETWORK: &str = "10.100.0.0/16";
/// The IPv6 cluster network of a dual-stack or IPv6-only cluster ([`Stack`]): node `i` gets
/// 2001:db8:42:<i>::/64.
pub const NETWORK6: &str = "2001:db8:42::/48";

/// Where the test API server listens in API mode (the test PKI's server certificate names it).
pub const API_IP: &str = "198.51.100.250";
pub const API_TOKEN: &str = "lichen-cluster-token";

/// The test API server of an API-mode cluster, in its own namespace on the underlay.
pub struct ApiServer {
    pub ns: NamedNs,
    pub api: super::kube_api::KubeApi,
    pub kubeconfig: PathBuf,
}

pub struct ClusterNode {
    pub name: String,
    pub ns: NamedNs,
    /// Underlay address, e.g. 198.51.100.11 (the first of `ips`).
    pub ip: String,
    /// Pod subnet, e.g. 10.100.1.0/24 (the first of `subnets`).
    pub subnet: String,
    /// Every underlay address (InternalIP), in the Node's order: one per family of the
    /// cluster's [`Stack`].
    pub ips: Vec<String>,
    /// Every pod subnet (`spec.podCIDRs`), in the Node's order.
    pub subnets: Vec<String>,
    pub agent: Option<Child>,
    /// Extra `lichen agent` arguments.
    pub args: Vec<String>,
    /// Extra annotations of its Node object ([`Cluster::publish`]), e.g. the WireGuard key.
    pub annotations: Vec<(String, String)>,
    /// The node's private mount namespace ([`Cluster::isolate_mounts`]): its agent and the
    /// commands run "on the node" join it; at teardown every process left in the node's
    /// network namespace is killed.
    pub mounts: Option<::testkit::mounts::PrivateMounts>,
}

impl ClusterNode {
    /// Gives a single-stack node the pod subnet `s`: `subnet` and `subnets` both (the Node
    /// objects [`Cluster::publish`] writes take `spec.podCIDRs` from `subnets`).
    pub fn set_subnet(&mut self, s: &str) {
        self.subnet = s.to_owned();
        self.subnets = vec![s.to_owned()];
    }

    /// Gives the node the pod subnets `all` (`spec.podCIDRs`, in order; `subnet` is the first).
    pub fn set_subnets(&mut self, all: &[String]) {
        self.subnet = all[0].clone();
        self.subnets = all.to_vec();
    }
}

pub struct Cluster {
    pub lan: Underlay,
    pub router: Option<NamedNs>,
    pub nodes: Vec<ClusterNode>,
    pub dir: PathBuf,
    pub backend: String,
    /// Extra arguments for every agent started from now on (e.g. `--network-policy`).
    pub agent_args: Vec<String>,
    /// Extra environment for every agent started from now on (e.g. `LICHEN_PODCIDR_WAIT`).
    pub agent_env: Vec<(String, String)>,
    pub api: Option<ApiServer>,
    /// The address families ([`Stack::V4`] unless made by [`Cluster::with_stack`]).
    pub stack: Stack,
    /// The plugin's `mode` in [`Cluster::pod_conf`]: "bridge" (these tests' default, given
    /// explicitly: the plugin's own is routed) or "routed".
    pub pod_mode: &'static str,
}

impl Cluster {
    /// `n` nodes on 198.51.100.0/24, pod subnets 10.100.<i>.0/24, backend JSON e.g.
    /// `{"Type":"host-gw"}`.
    pub fn new(tag: &str, n: usize, backend: &str) -> Cluster {
        Cluster::build(tag, n, backend, false, Stack::V4)
    }

    /// Like [`Cluster::new`], with the Nodes served by the test API server (API mode).
    pub fn with_api(tag: &str, n: usize, backend: &str) -> Cluster {
        Cluster::build(tag, n, backend, true, Stack::V4)
    }

    /// Like [`Cluster::new`] with the address families of `stack` (see [`Stack`]): for
    /// dual-stack, net-conf.json has `Network` and `EnableIPv6` + `IPv6Network` ([`NETWORK6`]);
    /// for IPv6 only, `EnableIPv4` false.
    pub fn with_stack(tag: &str, n: usize, backend: &str, stack: Stack) -> Cluster {
        Cluster::build(tag, n, backend, false, stack)
    }

    /// Like [`Cluster::with_stack`], with the Nodes served by the test API server (API mode).
    /// The API server listens on IPv4: the stack must have IPv4.
    pub fn with_stack_api(tag: &str, n: usize, backend: &str, stack: Stack) -> Cluster {
        assert!(stack.has_v4(), "the test API server is reached over IPv4");
        Cluster::build(tag, n, backend, true, stack)
    }

    fn build(tag: &str, n: usize, backend: &str, api: bool, stack: Stack) -> Cluster {
        require_root();
        let lan = Underlay::create(&testkit::unique_name("lc", &format!("{tag}-lan"))).unwrap();
        if stack.has_v6() {
            lan.flood_multicast().unwrap();
        }
        let dir = std::env::temp_dir().join(format!("{}-cluster", lan.ns.name));
        fs::create_dir_all(dir.join("objects")).unwrap();
        fs::write(
            dir.join("net-conf.json"),
            format!(r#"{{{},"Backend":{backend}}}"#, stack.net_conf()),
        )
        .unwrap();
        let mut c = Cluster {
            lan,
            router: None,
            nodes: Vec::new(),
            dir,
            backend: backend.to_owned(),
            agent_args: Vec::new(),
            agent_env: Vec::new(),
            api: None,
            stack,
            pod_mode: "bridge",
        };
        if api {
            c.start_api();
        }
        for i in 1..=n {
            c.add_node_on_lan(i);
        }
        c
    }

    fn start_api(&mut self) {
        let ns = NamedNs::create(&testkit::unique_name("lc", "api")).unwrap();
        self.lan
            .attach(&ns, "eth0", &format!("{API_IP}/24"), "pa")
            .unwrap();
        let path = ns.path.clone();
        // A socket stays in the namespace it was made in: bind on a thread inside it.
        let listener = std::thread::spawn(move || {
            super::probe::enter(&path);
            std::net::TcpListener::bind((API_IP, 6443)).unwrap()
        })
        .join()
        .unwrap();
        let api = super::kube_api::KubeApi::start_on(listener, Some(API_TOKEN));
        let kubeconfig = self.dir.join("kubeconfig.yaml");
        fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://{API_IP}:6443\n    certificate-authority: {}/ca.crt\nusers:\n- name: agent\n  user:\n    token: {API_TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: agent\ncurrent-context: test\n",
                super::kube_api::PKI
            ),
        )
        .unwrap();
        self.api = Some(ApiServer {
            ns,
            api,
            kubeconfig,
        });
    }

    /// The test API server (API mode).
    pub fn api(&self) -> &super::kube_api::KubeApi {
        &self.api.as_ref().expect("an API-mode cluster").api
    }

    pub fn objects(&self) -> PathBuf {
        self.dir.join("objects")
    }

    /// Node `i` (pod subnets of the stack: 10.100.<i>.0/24 …) joins the list with its underlay
    /// addresses `ips` (InternalIPs, without prefix), no agent yet.
    fn push_node(&mut self, i: usize, name: String, ns: NamedNs, ips: Vec<String>) {
        let subnets = self.stack.subnets(i);
        self.nodes.push(ClusterNode {
            name,
            ns,
            ip: ips[0].clone(),
            subnet: subnets[0].clone(),
            ips,
            subnets,
            agent: None,
            args: Vec::new(),
            annotations: Vec::new(),
            mounts: None,
        });
    }

    fn add_node_on_lan(&mut self, i: usize) {
        let name = format!("node{i}");
        let ns = NamedNs::create(&testkit::unique_name("lc", &name)).unwrap();
        let port = format!("p{i}");
        let addrs = self.stack.underlay(i);
        if self.stack == Stack::V4 {
            self.lan.attach(&ns, "eth0", &addrs[0], &port).unwrap();
        } else {
            if self.stack.has_v6() {
                no_dad(&ns);
            }
            self.lan.attach(&ns, "eth0", "", &port).unwrap();
            for a in &addrs {
                ns.add_addr("eth0", a).unwrap();
            }
        }
        let ips = addrs
            .iter()
            .map(|a| a.split('/').next().unwrap().to_owned())
            .collect();
        self.push_node(i, name, ns, ips);
        self.publish(self.nodes.len() - 1);
    }

    /// Writes node `k`'s Node object into the cluster dir (atomically, by rename); in API mode
    /// puts the Node (a full k3s Node without Flannel's VTEP MAC) into the API server.
    pub fn publish(&self, k: usize) {
        let n = &self.nodes[k];
        if let Some(a) = &self.api {
            let cidrs: Vec<&str> = n.subnets.iter().map(String::as_str).collect();
            let ips: Vec<&str> = n.ips.iter().map(String::as_str).collect();
            a.api.put_node_with(&n.name, |rv| {
                let json = super::kube_api::node_json_stack(&n.name, &cidrs, &ips, rv);
                let strip = r#"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":null}}}"#;
                let json = super::kube_api::patch_annotations(&json, strip).unwrap();
                match n.annotations.is_empty() {
                    true => json,
                    false => {
                        let patch = format!(r#"{{"metadata":{}}}"#, annotations_json(n));
                        super::kube_api::patch_annotations(&json, &patch).unwrap()
                    }
                }
            });
            return;
        }
        let cidrs: Vec<String> = n.subnets.iter().map(|s| format!("\"{s}\"")).collect();
        let internal: String = n
            .ips
            .iter()
            .map(|ip| format!(r#"{{"type":"InternalIP","address":"{ip}"}},"#))
            .collect();
        let json = format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}","labels":{{"kubernetes.io/hostname":"{0}"}}{}}},"spec":{{"podCIDR":"{}","podCIDRs":[{}]}},"status":{{"addresses":[{}{{"type":"Hostname","address":"{0}"}}]}}}}"#,
            n.name,
            annotations_member(n),
            n.subnet,
            cidrs.join(","),
            internal
        );
        let tmp = self.objects().join(format!(".{}.tmp", n.name));
        fs::write(&tmp, json).unwrap();
        fs::rename(&tmp, self.objects().join(format!("{}.json", n.name))).unwrap();
    }

    /// Writes (or replaces) object file `file` in the cluster dir, atomically by rename.
    pub fn put_object(&self, file: &str, json: &str) {
        let tmp = self.objects().join(format!(".{file}.tmp"));
        fs::write(&tmp, json).unwrap();
        fs::rename(&tmp, self.objects().join(file)).unwrap();
    }

    pub fn remove_object(&self, file: &str) {
        fs::remove_file(self.objects().join(file)).unwrap();
    }

    /// `nft <args>` in node `k`'s namespace (stdout).
    pub fn nft(&self, k: usize, args: &[&str]) -> String {
        let out = self.nodes[k].ns.exec("nft", args).unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn unpublish(&self, k: usize) {
        if let Some(a) = &self.api {
            a.api.delete_node(&self.nodes[k].name);
            return;
        }
        fs::remove_file(self.objects().join(format!("{}.json", self.nodes[k].name))).unwrap();
    }

    pub fn subnet_file(&self, k: usize) -> PathBuf {
        self.dir.join(format!("{}-subnet.env", self.nodes[k].name))
    }

    /// `ip route show <dst>` in node `k` (`ip -6` for an IPv6 `dst`: plain `ip route` lists
    /// IPv4 routes only).
    pub fn route(&self, k: usize, dst: &str) -> String {
        let mut args = vec!["route", "show", dst];
        if dst.contains(':') {
            args.insert(0, "-6");
        }
        self.nodes[k].ns.ip(&args).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for k in 0..self.nodes.len() {
            self.kill_agent(k);
        }
        for n in &mut self.nodes {
            if n.mounts.take().is_some() {
                ::testkit::mounts::kill_netns_processes(&n.ns);
            }
        }
        if let Some(a) = &self.api {
            a.api.set_down(true);
        }
        if std::thread::panicking() {
            for k in 0..self.nodes.len() {
                eprintln!(
                    "--- agent log of {}:\n{}",
                    self.nodes[k].name,
                    self.agent_log(k)
                );
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `{"annotations":{…}}` of node `n`'s extra annotations (values are keys and addresses: no
/// character in them needs escaping).
fn annotations_json(n: &ClusterNode) -> String {
    let members: Vec<String> = n
        .annotations
        .iter()
        .map(|(k, v)| {
            assert!(!v.contains(['"', '\\']), "annotation {k}: {v:?}");
            format!(r#""{k}":"{v}""#)
        })
        .collect();
    format!(r#"{{"annotations":{{{}}}}}"#, members.join(","))
}

/// `,"annotations":{…}` inside a Node's metadata, or nothing when it has no extra ones.
fn annotations_member(n: &ClusterNode) -> String {
    match n.annotations.is_empty() {
        true => String::new(),
        false => {
            let a = annotations_json(n);
            format!(",{}", &a[1..a.len() - 1])
        }
    }
}
