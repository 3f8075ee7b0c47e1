//! One idempotent pass: cluster state → desired kernel state → plan against the kernel → apply,
//! plus the survey and the subnet file. It runs on Node changes, on kernel changes and on a
//! timer. The node's firewall rules are not its business (the node-rules reconciler,
//! [`super::firewall`], has its own port and trigger), nor is NetworkPolicy (the policy
//! reconciler, [`super::policy`], runs on a thread of its own, woken by the kinds it compiles
//! from). It never removes what works because information is missing: while
//! this node is unknown or has no podCIDR, nothing is touched.
//!
//! A Node that stays without `spec.podCIDR` for [`Reconciler::podcidr_wait`] (default
//! [`PODCIDR_WAIT`]) almost always means the kube-controller-manager does not allocate node
//! CIDRs (microk8s' default): the agent then says once, as a warning, and for as long as it
//! waits in `lichen status`, what to change ([`podcidr_hint`]).
//!
//! While this Node's entry is missing from a state it was seen in before (deleted, or its file
//! turned malformed), its last good entry is used, with a warning in status: peer changes keep
//! applying. Peer statuses say what the kernel accepted and refusals are logged once (see
//! [`super::peer_log`]).
//!
//! Parts: `local.rs` (this node, whether it can be programmed yet, its underlay), `field.rs` (the
//! answers to field failures), `wireguard.rs` (the WireGuard device's peers, synced after the
//! plan, and the status section), `error.rs` ([`ReconcileError`]: which step failed, with the
//! kernel's or the file system's error as its source; the report and the log get its whole
//! chain).

mod error;
mod field;
mod local;
mod wireguard;

pub use error::ReconcileError;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use lichen_backends::{self as backends, BackendConf, Desired, NodeInfo};

use super::error::chain;
use super::kernel::Kernel;
use super::netconf::ClusterNetwork;
use super::peer_log::{self, Refusals};
use super::report::Report;
use crate::k8s::Node;
use crate::model::ClusterState;
use crate::subnet_file::SubnetFile;

pub struct Reconciler<K: Kernel> {
    pub kernel: K,
    pub node_name: String,
    pub netconf: ClusterNetwork,
    pub iface: Option<String>,
    pub subnet_file: PathBuf,
    /// How long this Node may lack a podCIDR before the agent says how to fix it.
    pub podcidr_wait: Duration,
    /// Since when this Node has had no podCIDR (None: it has one, or is not known yet), and
    /// whether the warning went out.
    no_podcidr_since: Option<Instant>,
    hinted: bool,
    /// Answers to field failures (see [`field`]).
    field: field::FieldState,
    /// This Node as last seen in the cluster state, used while its entry is missing (e.g. its
    /// file turned malformed) so peer changes still apply.
    last_local: Option<Node>,
    /// Peer refusals already logged.
    refusals: Refusals,
    /// This node's WireGuard public key (WireGuard backend): this node's in the backends'
    /// view, whatever its Node's annotation says, and shown in the status.
    pub wg_public_key: Option<[u8; 32]>,
}

/// The default of [`Reconciler::podcidr_wait`].
pub const PODCIDR_WAIT: Duration = Duration::from_secs(60);

pub fn backend_name(b: &BackendConf) -> String {
    match b {
        BackendConf::HostGw => "host-gw".into(),
        BackendConf::Vxlan(v) if v.direct_routing => {
            format!("vxlan (VNI {}, port {}, DirectRouting)", v.vni, v.port)
        }
        BackendConf::Vxlan(v) => format!("vxlan (VNI {}, port {})", v.vni, v.port),
        BackendConf::Wireguard(w) => format!("wireguard (port {})", w.listen_port),
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
        wg_public_key: n.wg_public_key,
        wg_endpoint: n.wg_endpoint,
    }
}

impl<K: Kernel> Reconciler<K> {
    pub fn new(
        kernel: K,
        node_name: String,
        netconf: ClusterNetwork,
        iface: Option<String>,
        subnet_file: PathBuf,
    ) -> Self {
        Reconciler {
            kernel,
            node_name,
            netconf,
            iface,
            subnet_file,
            podcidr_wait: PODCIDR_WAIT,
            no_podcidr_since: None,
            hinted: false,
            field: field::FieldState::default(),
            last_local: None,
            refusals: Refusals::default(),
            wg_public_key: None,
        }
    }

    /// One pass.
    pub fn reconcile(&mut self, state: &ClusterState, report: &mut Report) {
        report.reconcile_runs += 1;
        report.node = self.node_name.clone();
        report.backend = backend_name(&self.netconf.backend);
        report.last_errors.clear();
        report.last_drift.clear();
        report.warnings.clear();
        report.skipped = state
            .skipped
            .iter()
            .map(|(file, why)| format!("{file}: {why}"))
            .collect();
        self.wg_section(report);
        let started = Instant::now();
        let result = self.pass(state, report);
        report.reconcile_seconds.observe(started.elapsed());
        match result {
            Ok(()) => {
                if report.last_errors.is_empty() {
                    report.last_sync = Some(SystemTime::now());
                } else {
                    report.reconcile_errors += 1;
                }
            }
            Err(e) => {
                report.reconcile_errors += 1;
                report.last_errors.push(e.line());
            }
        }
        for e in &report.last_errors {
            log::error!("reconcile: {e}");
        }
        self.refusals.log_new(&report.peers);
    }

    fn pass(&mut self, state: &ClusterState, report: &mut Report) -> Result<(), ReconcileError> {
        let Some(local) = self.programmable(state, report)? else {
            return Ok(());
        };
        let mut me = node_info(&local);
        me.wg_public_key = self.wg_public_key.or(me.wg_public_key);
        let underlay = self.underlay(&me)?;
        report.waiting = None;
        report.subnets = local.pod_cidrs.iter().map(|c| c.to_string()).collect();

        let mut peers: Vec<NodeInfo> = state
            .live_nodes()
            .filter(|n| n.name != self.node_name)
            .map(node_info)
            .collect();
        report.stale = self.field.last_addresses.fill(&mut peers);
        let desired = backends::desired(
            &me,
            &underlay,
            &peers,
            &self.netconf.backend,
            &self.netconf.network,
        );
        report.peers = desired.peers.clone();

        let mtu = self
            .netconf
            .mtu
            .unwrap_or_else(|| backends::pod_mtu(&self.netconf.backend, &underlay));
        let synced = self.sync_kernel(&desired, report);
        self.sync_wireguard(&desired, report);
        self.sync_offload(&desired, report);
        self.survey(&local.pod_cidrs, report);
        // Last: the subnet file tells the plugin this node's network is ready, so a pod
        // attached once it exists can reach its peers at once.
        self.write_subnet_file(&local.pod_cidrs, mtu)
            .map_err(|source| ReconcileError::SubnetFile {
                path: self.subnet_file.clone(),
                source,
            })?;
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

    fn sync_kernel(
        &mut self,
        desired: &Desired,
        report: &mut Report,
    ) -> Result<(), ReconcileError> {
        let actual = self.kernel.actual().map_err(ReconcileError::KernelState)?;
        let ops = backends::plan(desired, &actual);
        for op in &ops {
            let text = op_text(op);
            log::info!("apply {text}");
            report.last_drift.push(text);
            if let Err(e) = self.kernel.apply(desired, op) {
                let e = self.refused(op, e);
                if let Some(addr) = desired.peer_addr_of(op) {
                    peer_log::mark_failed(&mut report.peers, addr, &chain(&e).to_string());
                }
                report.last_errors.push(e.line());
            }
        }
        Ok(())
    }

    /// `lichen agent --cleanup`: remove the routes, devices, policy table and subnet file the
    /// agent made (the node rules are [`super::firewall::RulesSync::cleanup`]'s); returns what
    /// could not be.
    pub fn cleanup(&mut self) -> Vec<ReconcileError> {
        let mut errors = Vec::new();
        let empty = Desired::default();
        match self.kernel.actual() {
            Ok(actual) => {
                for op in backends::plan(&empty, &actual) {
                    if let Err(source) = self.kernel.apply(&empty, &op) {
                        errors.push(ReconcileError::Refused {
                            op: op_text(&op),
                            source,
                            hint: None,
                        });
                    }
                }
            }
            Err(e) => errors.push(ReconcileError::KernelState(e)),
        }
        if let Err(e) = self.kernel.remove_policy() {
            errors.push(ReconcileError::PolicyTable(e));
        }
        match std::fs::remove_file(&self.subnet_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => errors.push(ReconcileError::RemoveSubnetFile {
                path: self.subnet_file.clone(),
                source,
            }),
        }
        errors
    }
}

/// What to do when Node `node` has waited `waited` for a podCIDR: the controller-manager
/// flags for the net-conf's networks (kube-controller-manager's `--allocate-node-cidrs`,
/// `--cluster-cidr`, `--node-cidr-mask-size` or, dual-stack, `-ipv4`/`-ipv6`), and where
/// microk8s keeps them. One line per step.
pub fn podcidr_hint(node: &str, netconf: &ClusterNetwork, waited: Duration) -> String {
    let cidrs: Vec<String> = netconf.network.iter().map(|n| n.to_string()).collect();
    let masks = match (&netconf.network[..], &netconf.subnet_len[..]) {
        ([_], [len]) => format!("--node-cidr-mask-size={len}"),
        (nets, lens) => nets
            .iter()
            .zip(lens)
            .map(|(n, len)| {
                let family = if n.addr().is_ipv4() { "ipv4" } else { "ipv6" };
                format!("--node-cidr-mask-size-{family}={len}")
            })
            .collect::<Vec<_>>()
            .join(" "),
    };
    let flags = format!(
        "--allocate-node-cidrs=true --cluster-cidr={} {masks}",
        cidrs.join(",")
    );
    format!(
        "Node {node:?} has had no spec.podCIDR for {}s: the kube-controller-manager does not allocate node CIDRs.\n\
         Run it with {flags}\n\
         (the net-conf's Network and SubnetLen). On microk8s: add these flags, one per line, to\n\
         /var/snap/microk8s/current/args/kube-controller-manager on every control-plane node,\n\
         then run `snap restart microk8s.daemon-kubelite` there.",
        waited.as_secs()
    )
}

/// A plan step as the log, the drift list and errors show it: its `Debug`, but the WireGuard
/// device in short (its peers' 32-byte keys as number lists would fill the line).
pub fn op_text(op: &lichen_backends::Op) -> String {
    match op {
        lichen_backends::Op::CreateWireguard(d) => format!(
            "CreateWireguard({}, mtu {}, port {}, {} peers)",
            d.name,
            d.mtu,
            d.listen_port,
            d.peers.len()
        ),
        op => format!("{op:?}"),
    }
}

/// The first host address of a subnet (the bridge gateway): network + 1.
pub fn first_host(net: &IpNet) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) + 1).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) + 1).into()),
    }
}
