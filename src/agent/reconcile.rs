//! One idempotent pass: cluster state → desired kernel state → plan against the kernel → apply,
//! plus the subnet file and the nftables rules. It runs on every cluster change, on kernel
//! changes and on a timer. It never removes what works because information is missing: while
//! this node is unknown or has no podCIDR, nothing is touched.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use ipnet::IpNet;
use lichen_backends::{self as backends, BackendConf, Desired, NodeInfo, VxlanConf};

use super::kernel::Kernel;
use super::netconf::{Backend, NetConf};
use super::policy::PolicySync;
use super::report::Report;
use super::source::ClusterState;
use crate::k8s::Node;
use crate::nft::NodeRules;
use crate::subnet_file::SubnetFile;

pub struct Reconciler<K: Kernel> {
    pub kernel: K,
    pub node_name: String,
    pub netconf: NetConf,
    pub backend: BackendConf,
    pub iface: Option<String>,
    pub subnet_file: PathBuf,
    /// The rules last applied (None: never, or must be re-applied).
    applied_rules: Option<NodeRules>,
    /// The NetworkPolicy mode (on when `netconf.network_policy`).
    policy: PolicySync,
}

/// The backend configuration of a net-conf.
pub fn backend_conf(n: &NetConf) -> BackendConf {
    match n.backend {
        Backend::HostGw => BackendConf::HostGw,
        Backend::Vxlan(v) => BackendConf::Vxlan(VxlanConf {
            vni: v.vni,
            port: v.port,
            direct_routing: v.direct_routing,
            mtu: n.mtu,
        }),
    }
}

pub fn backend_name(b: &BackendConf) -> String {
    match b {
        BackendConf::HostGw => "host-gw".into(),
        BackendConf::Vxlan(v) if v.direct_routing => {
            format!("vxlan (VNI {}, port {}, DirectRouting)", v.vni, v.port)
        }
        BackendConf::Vxlan(v) => format!("vxlan (VNI {}, port {})", v.vni, v.port),
    }
}

/// A Node as the backends see it; a published public-ip override comes first.
pub fn node_info(n: &Node) -> NodeInfo {
    let mut internal_ips = Vec::new();
    internal_ips.extend(n.public_ip);
    internal_ips.extend(
        n.internal_ips
            .iter()
            .copied()
            .filter(|ip| Some(*ip) != n.public_ip),
    );
    NodeInfo {
        name: n.name.clone(),
        pod_cidrs: n.pod_cidrs.clone(),
        internal_ips,
        vtep_mac: n.vtep_mac,
    }
}

impl<K: Kernel> Reconciler<K> {
    pub fn new(
        kernel: K,
        node_name: String,
        netconf: NetConf,
        iface: Option<String>,
        subnet_file: PathBuf,
    ) -> Self {
        let backend = backend_conf(&netconf);
        Reconciler {
            kernel,
            node_name,
            netconf,
            backend,
            iface,
            subnet_file,
            applied_rules: None,
            policy: PolicySync::default(),
        }
    }

    /// One pass. `full` re-applies the nftables rules even when unchanged (the timer's pass).
    pub fn reconcile(&mut self, state: &ClusterState, full: bool, report: &mut Report) {
        report.reconcile_runs += 1;
        report.node = self.node_name.clone();
        report.backend = backend_name(&self.backend);
        report.last_errors.clear();
        report.last_drift.clear();
        match self.pass(state, full, report) {
            Ok(()) => {
                if report.last_errors.is_empty() {
                    report.last_sync = Some(SystemTime::now());
                } else {
                    report.reconcile_errors += 1;
                }
            }
            Err(e) => {
                report.reconcile_errors += 1;
                report.last_errors.push(e);
            }
        }
        for e in &report.last_errors {
            log::error!("reconcile: {e}");
        }
    }

    fn pass(
        &mut self,
        state: &ClusterState,
        full: bool,
        report: &mut Report,
    ) -> Result<(), String> {
        // Policy needs only this node's name: pods name their node.
        self.policy.sync(
            &mut self.kernel,
            self.netconf.network_policy,
            state,
            &self.node_name,
            full,
            report,
        );
        let Some(local) = state.nodes.get(&self.node_name).filter(|n| !n.deleting) else {
            report.waiting = Some(format!(
                "Node {:?} is not in the cluster state yet",
                self.node_name
            ));
            report.subnets.clear();
            return Ok(());
        };
        if local.pod_cidrs.is_empty() {
            report.waiting = Some(format!("Node {:?} has no spec.podCIDR yet", self.node_name));
            report.subnets.clear();
            return Ok(());
        }
        if let Some(c) = local
            .pod_cidrs
            .iter()
            .find(|c| !self.netconf.network.iter().any(|n| n.contains(*c)))
        {
            return Err(format!(
                "this node's podCIDR {c} is not inside the cluster network {:?} of net-conf.json",
                self.netconf
                    .network
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
            ));
        }
        let me = node_info(local);
        let addr = *me.internal_ips.first().ok_or_else(|| {
            format!(
                "Node {:?} has no InternalIP in status.addresses",
                self.node_name
            )
        })?;
        let underlay =
            self.kernel
                .underlay(self.iface.as_deref(), addr)
                .map_err(|e| match &self.iface {
                    Some(i) => format!("underlay interface {i:?}: {e}"),
                    None => {
                        format!("no interface holds this node's address {addr} ({e}); pass --iface")
                    }
                })?;
        report.waiting = None;
        report.subnets = local.pod_cidrs.iter().map(|c| c.to_string()).collect();

        let peers: Vec<NodeInfo> = state
            .live_nodes()
            .filter(|n| n.name != self.node_name)
            .map(node_info)
            .collect();
        let desired =
            backends::desired(&me, &underlay, &peers, &self.backend, &self.netconf.network);
        report.peers = desired.peers.clone();

        let mtu = self
            .netconf
            .mtu
            .unwrap_or_else(|| backends::pod_mtu(&self.backend, &underlay));
        self.sync_rules(full, report);
        let synced = self.sync_kernel(&desired, report);
        // Last: the subnet file tells the plugin this node's network is ready, so a pod
        // attached once it exists can reach its peers at once.
        self.write_subnet_file(&local.pod_cidrs, mtu)
            .map_err(|e| format!("writing {}: {e}", self.subnet_file.display()))?;
        synced
    }

    fn write_subnet_file(&self, cidrs: &[IpNet], mtu: u32) -> std::io::Result<()> {
        let subnets = cidrs
            .iter()
            .map(|c| {
                let gw = first_host(c);
                IpNet::new(gw, c.prefix_len()).expect("prefix of a valid net")
            })
            .collect();
        let file = SubnetFile {
            networks: self.netconf.network.clone(),
            subnets,
            mtu: Some(mtu),
            ipmasq: self.netconf.ipmasq,
        };
        if file.write_if_changed(&self.subnet_file)? {
            log::info!(
                "wrote {}: {}",
                self.subnet_file.display(),
                file.render().replace('\n', " ")
            );
        }
        Ok(())
    }

    fn sync_rules(&mut self, full: bool, report: &mut Report) {
        let rules = NodeRules {
            cluster: self.netconf.network.clone(),
            masquerade: self.netconf.ipmasq,
        };
        if !full && self.applied_rules.as_ref() == Some(&rules) {
            return;
        }
        match self.kernel.apply_rules(&rules) {
            Ok(()) => self.applied_rules = Some(rules),
            Err(e) => {
                self.applied_rules = None;
                report.last_errors.push(format!("nftables: {e}"));
            }
        }
    }

    fn sync_kernel(&mut self, desired: &Desired, report: &mut Report) -> Result<(), String> {
        let actual = self
            .kernel
            .actual()
            .map_err(|e| format!("reading the kernel state: {e}"))?;
        let ops = backends::plan(desired, &actual);
        for op in &ops {
            report.last_drift.push(format!("{op:?}"));
            log::info!("apply {op:?}");
            if let Err(e) = self.kernel.apply(desired, op) {
                report.last_errors.push(format!("{op:?}: {e}"));
            }
        }
        Ok(())
    }

    /// `lichen agent --cleanup`: remove everything the agent made.
    pub fn cleanup(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        let empty = Desired {
            underlay_ifindex: 0,
            device: None,
            routes: Vec::new(),
            neighbours: Vec::new(),
            fdb: Vec::new(),
            peers: Vec::new(),
        };
        match self.kernel.actual() {
            Ok(actual) => {
                for op in backends::plan(&empty, &actual) {
                    if let Err(e) = self.kernel.apply(&empty, &op) {
                        errors.push(format!("{op:?}: {e}"));
                    }
                }
            }
            Err(e) => errors.push(format!("reading the kernel state: {e}")),
        }
        if let Err(e) = self.kernel.remove_rules() {
            errors.push(format!("nftables: {e}"));
        }
        if let Err(e) = self.kernel.remove_policy() {
            errors.push(format!("nftables policy table: {e}"));
        }
        match std::fs::remove_file(&self.subnet_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!("{}: {e}", self.subnet_file.display())),
        }
        errors
    }
}

/// The first host address of a subnet (the bridge gateway): network + 1.
pub fn first_host(net: &IpNet) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) + 1).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) + 1).into()),
    }
}
