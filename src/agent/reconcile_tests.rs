//! The reconciler against the backends' fake kernel: no netlink, real end states. The policy
//! pass on the same fake kernel is tested in `policy`; the node rules, applied once at the
//! start as in the agent, are on the fake firewall driver.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lichen_backends::testing::FakeKernel;
use lichen_backends::{Actual, Desired, LocalUnderlay, Op, PeerState, WgDevice};
use lichen_wireguard::PrivateKey;

use super::firewall::fake::FakeFirewall;
use super::firewall::{node_rules, RulesReport, RulesSync};
use super::kernel::{Kernel, PolicyKernel};
use super::netconf::ClusterNetwork;
use super::policy::PolicySync;
use super::reconcile::{podcidr_hint, Reconciler};
use super::report::Report;
use super::wireguard::fake::FakeWg;
use super::wireguard::{WgError, WgReport};
use crate::k8s::{Node, Object};
use crate::model::ClusterState;
use crate::policy::table::Applied;
use crate::subnet_file::SubnetFile;

mod policy;
mod wireguard;

pub(super) struct Fake {
    pub(super) k: FakeKernel,
    /// Route destinations the kernel refuses with EEXIST (a route it already has).
    pub(super) refuse: Vec<ipnet::IpNet>,
    /// The policy table: the ruleset it holds, or absent.
    policy: Option<crate::policy::Ruleset>,
    /// How each policy apply went (replaced or elements only).
    policy_applies: Vec<Applied>,
    bridge_nf: bool,
    /// Pods on a bridge (bridge mode) on this node.
    pub(super) bridged_pods: bool,
    /// The errno the kernel answers to creating a VXLAN device (a missing module: EOPNOTSUPP).
    pub(super) refuse_vxlan: Option<i32>,
    /// The WireGuard controller over an in-memory device (its key: all 0x11 bytes, clamped).
    pub(super) wg: FakeWg,
}

impl Kernel for Fake {
    fn underlay(&mut self, iface: Option<&str>, addr: IpAddr) -> io::Result<LocalUnderlay> {
        if iface.is_some_and(|i| i != self.k.underlay.name) || addr != self.k.underlay.addr {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such interface/address",
            ));
        }
        Ok(self.k.underlay.clone())
    }
    fn actual(&mut self) -> io::Result<Actual> {
        Ok(self.k.actual())
    }
    fn apply(&mut self, desired: &Desired, op: &Op) -> io::Result<()> {
        if let (Some(errno), Op::CreateDevice(_) | Op::ReplaceDevice(_)) = (self.refuse_vxlan, op) {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if let Op::AddRoute(r) = op {
            if self.refuse.contains(&r.dst) {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
        }
        self.k
            .apply(desired, op)
            .map_err(|e| io::Error::other(e.to_string()))
    }
    fn sync_wireguard(&mut self, device: &WgDevice) -> Result<WgReport, WgError> {
        if self.k.wireguard.is_none() {
            return Err(WgError::NoDevice(device.name.clone()));
        }
        self.wg.sync(device)
    }
}

impl PolicyKernel for Fake {
    fn apply_policy(
        &mut self,
        rules: &crate::policy::Ruleset,
        previous: Option<&crate::policy::Ruleset>,
    ) -> io::Result<Applied> {
        // What the real kernel does: element batches only on top of what is there.
        let how = match previous.and_then(|p| crate::policy::table::element_changes(p, rules)) {
            Some(c) if c.is_empty() => Applied::Unchanged,
            Some(c) if self.policy.as_ref() == previous => Applied::Elements(c.len()),
            _ => Applied::Replaced(0),
        };
        self.policy = Some(rules.clone());
        self.policy_applies.push(how);
        Ok(how)
    }
    fn remove_policy(&mut self) -> io::Result<()> {
        self.policy = None;
        Ok(())
    }
    fn bridge_filtering(&mut self) -> io::Result<bool> {
        Ok(self.bridge_nf)
    }
    fn bridged_pods(&mut self) -> io::Result<bool> {
        Ok(self.bridged_pods)
    }
}

pub(super) fn node(name: &str, cidr: &str, ip: &str) -> Node {
    let json = format!(
        r#"{{"kind":"Node","metadata":{{"name":"{name}"}},"spec":{{"podCIDR":"{cidr}"}},"status":{{"addresses":[{{"type":"InternalIP","address":"{ip}"}}]}}}}"#
    );
    Node::from_json(json.as_bytes()).unwrap()
}

pub(super) fn state(nodes: &[Node]) -> ClusterState {
    let mut s = ClusterState::default();
    for n in nodes {
        s.upsert(Object::Node(n.clone()));
    }
    s
}

fn underlay() -> LocalUnderlay {
    LocalUnderlay {
        ifindex: 2,
        name: "eth0".into(),
        addr: "198.51.100.11".parse().unwrap(),
        onlink: vec!["198.51.100.0/24".parse().unwrap()],
        mtu: 1500,
        node_nets: vec![("198.51.100.11/24".parse().unwrap(), "eth0".into())],
    }
}

pub(super) struct Case {
    pub(super) rec: Reconciler<Fake>,
    /// The policy reconciler, on the same fake kernel.
    pub(super) policy: PolicySync,
    /// The node-rules reconciler, on the fake firewall, and its section after its first pass.
    pub(super) firewall: RulesSync<FakeFirewall>,
    rules: RulesReport,
    file: PathBuf,
}

impl Case {
    pub(super) fn new(netconf: &str) -> Case {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file =
            std::env::temp_dir().join(format!("lichen-rec-{}-{n}/subnet.env", std::process::id()));
        let fake = Fake {
            k: FakeKernel::new(&underlay()),
            refuse: Vec::new(),
            policy: None,
            policy_applies: Vec::new(),
            bridge_nf: true,
            bridged_pods: true,
            refuse_vxlan: None,
            wg: FakeWg::new(PrivateKey(lichen_wireguard::Key([0x11; 32]))),
        };
        let nc = ClusterNetwork::parse(netconf.as_bytes()).unwrap();
        let mut firewall = RulesSync::new(FakeFirewall::default());
        Case {
            policy: PolicySync::new("node1".into(), nc.network_policy),
            rules: firewall.sync(&node_rules(&nc), false),
            firewall,
            rec: Reconciler::new(fake, "node1".into(), nc, None, file.clone()),
            file,
        }
    }
    /// A route pass, then a policy pass (as in the agent, where the node rules went in at
    /// the start and only their own timer runs them again).
    pub(super) fn run(&mut self, s: &ClusterState) -> Report {
        let mut r = Report::default();
        self.rec.reconcile(s, &mut r);
        r.policy = self.policy.sync(&mut self.rec.kernel, s, false);
        r.node_rules = self.rules.clone();
        r
    }
    /// The node-rules reconciler's resync pass (its own timer in the agent).
    pub(super) fn resync_rules(&mut self) {
        self.rules = self.firewall.sync(&node_rules(&self.rec.netconf), true);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.file.parent().unwrap());
    }
}

pub(super) const HOSTGW: &str = r#"{"Network":"10.100.0.0/16","Backend":{"Type":"host-gw"}}"#;
pub(super) const VXLAN: &str = r#"{"Network":"10.100.0.0/16","Backend":{"Type":"vxlan"}}"#;

pub(super) fn three() -> Vec<Node> {
    vec![
        node("node1", "10.100.1.0/24", "198.51.100.11"),
        node("node2", "10.100.2.0/24", "198.51.100.12"),
        node("node3", "10.100.3.0/24", "198.51.100.13"),
    ]
}

#[test]
fn host_gw_programs_every_peer_writes_the_subnet_file_and_rules() {
    let mut c = Case::new(HOSTGW);
    let r = c.run(&state(&three()));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    let routes = &c.rec.kernel.k.routes;
    assert_eq!(routes.len(), 2);
    assert!(routes
        .iter()
        .any(|r| r.dst.to_string() == "10.100.2.0/24"
            && r.gw == Some("198.51.100.12".parse().unwrap())));
    let f = SubnetFile::read(&c.file).unwrap().unwrap();
    assert_eq!(f.subnets[0].to_string(), "10.100.1.1/24");
    assert_eq!(f.mtu, Some(1500));
    assert!(f.ipmasq);
    let rules = c.firewall.firewall.table.clone().unwrap();
    assert_eq!(rules.cluster[0].to_string(), "10.100.0.0/16");
    assert!(rules.masquerade);
    assert!(r
        .peers
        .iter()
        .all(|p| matches!(p.state, PeerState::Programmed(_))));
    // idempotent: a second pass changes nothing; Node passes never touch the node rules
    let r2 = c.run(&state(&three()));
    assert!(r2.last_drift.is_empty(), "{:?}", r2.last_drift);
    assert_eq!(c.firewall.firewall.applies, 1);
}

#[test]
fn vxlan_device_mtu_and_removed_peer() {
    let mut c = Case::new(VXLAN);
    c.run(&state(&three()));
    assert_eq!(c.rec.kernel.k.devices.len(), 1);
    assert_eq!(c.rec.kernel.k.devices[0].name, "lichen.1");
    assert_eq!(SubnetFile::read(&c.file).unwrap().unwrap().mtu, Some(1450));
    let mut two = three();
    two.pop();
    let r = c.run(&state(&two));
    assert!(!r.last_drift.is_empty());
    assert_eq!(c.rec.kernel.k.routes.len(), 1, "node3's route removed");
    assert_eq!(
        c.rec.kernel.k.devices[0].fdb.len(),
        1,
        "node3's FDB entry removed"
    );
}

#[test]
fn drift_is_repaired_and_reported() {
    let mut c = Case::new(VXLAN);
    c.run(&state(&three()));
    c.rec.kernel.k.routes.pop();
    c.rec.kernel.k.devices[0].fdb.clear();
    let r = c.run(&state(&three()));
    assert!(r.last_drift.len() >= 2, "{:?}", r.last_drift);
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert_eq!(c.rec.kernel.k.routes.len(), 2);
    assert_eq!(c.rec.kernel.k.devices[0].fdb.len(), 2);
}

#[test]
fn unknown_node_or_missing_pod_cidr_touches_nothing() {
    let mut c = Case::new(HOSTGW);
    c.run(&state(&three()));
    let before = c.rec.kernel.k.clone();
    // this node vanished from the source (e.g. a broken file): its last good entry is used,
    // so the data plane stays as it is
    let r = c.run(&state(&three()[1..]));
    assert!(r.warnings.iter().any(|w| w.contains("node1")), "{r:?}");
    assert_eq!(c.rec.kernel.k, before);
    // never seen at all: wait
    let r = Case::new(HOSTGW).run(&state(&three()[1..]));
    assert!(r.waiting.as_deref().unwrap().contains("node1"), "{r:?}");
    // no podCIDR yet: wait, and say so
    let mut c = Case::new(HOSTGW);
    let mut nodes = three();
    nodes[0] = Node::from_json(br#"{"kind":"Node","metadata":{"name":"node1"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.11"}]}}"#).unwrap();
    let r = c.run(&state(&nodes));
    assert!(r.waiting.as_deref().unwrap().contains("podCIDR"));
    assert!(
        !c.file.exists(),
        "no subnet file until the podCIDR is assigned"
    );
    assert!(c.rec.kernel.k.routes.is_empty());
}

#[test]
fn pod_cidr_outside_the_network_is_an_error() {
    let mut c = Case::new(HOSTGW);
    let mut nodes = three();
    nodes[0] = node("node1", "10.200.1.0/24", "198.51.100.11");
    let r = c.run(&state(&nodes));
    assert!(
        r.last_errors[0].contains("not inside the cluster network"),
        "{:?}",
        r.last_errors
    );
    assert!(!c.file.exists());
    assert!(!r.ready(), "an error is not ready");
    let r = c.run(&state(&three()));
    assert!(r.ready(), "{:?} {:?}", r.waiting, r.last_errors);
}

#[test]
fn a_node_without_pod_cidr_gets_the_controller_manager_hint_after_the_wait() {
    let mut c = Case::new(HOSTGW);
    let mut nodes = three();
    nodes[0] = Node::from_json(br#"{"kind":"Node","metadata":{"name":"node1"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.11"}]}}"#).unwrap();
    let r = c.run(&state(&nodes));
    assert_eq!(
        r.waiting.as_deref(),
        Some(r#"Node "node1" has no spec.podCIDR yet"#)
    );
    let due = c.rec.hint_due().expect("the hint is pending");
    assert!(
        due > Instant::now() + Duration::from_secs(50),
        "after a minute"
    );
    c.rec.podcidr_wait = Duration::ZERO;
    for _ in 0..2 {
        let r = c.run(&state(&nodes));
        let w = r.waiting.clone().unwrap();
        for want in [
            r#"Node "node1" has had no spec.podCIDR"#,
            "--allocate-node-cidrs=true --cluster-cidr=10.100.0.0/16 --node-cidr-mask-size=24",
            "/var/snap/microk8s/current/args/kube-controller-manager on every control-plane node",
            "snap restart microk8s.daemon-kubelite",
        ] {
            assert!(w.contains(want), "{want:?} in {w}");
        }
        assert_eq!(c.rec.hint_due(), None, "said once, shown while waiting");
        assert!(!r.ready());
    }
    let r = c.run(&state(&three()));
    assert!(r.waiting.is_none() && r.ready());
    c.rec.podcidr_wait = Duration::from_secs(60);
    c.run(&state(&nodes));
    assert!(
        c.rec.hint_due().is_some(),
        "a podCIDR lost again: the wait starts over"
    );
}

#[test]
fn the_hint_names_both_families_when_dual_stack() {
    let nc = ClusterNetwork::parse(
        br#"{"Network":"10.100.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:100::/56"}"#,
    )
    .unwrap();
    let hint = podcidr_hint("n1", &nc, Duration::from_secs(61));
    assert!(hint.contains("--allocate-node-cidrs=true --cluster-cidr=10.100.0.0/16,fd00:100::/56 --node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=64"), "{hint}");
}

#[test]
fn cleanup_removes_everything() {
    let mut c = Case::new(VXLAN);
    c.run(&state(&three()));
    assert!(c.file.exists());
    let errors = c.rec.cleanup();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(c.rec.kernel.k.routes.is_empty());
    assert!(c.rec.kernel.k.devices.is_empty());
    assert!(c.firewall.cleanup().is_ok());
    assert!(c.firewall.firewall.table.is_none());
    assert!(!c.file.exists());
}

#[test]
fn refused_node_rules_make_the_node_unready_and_status_says_why() {
    let mut c = Case::new(HOSTGW);
    c.firewall.firewall.refuse = Some(libc::EPERM);
    c.resync_rules();
    let r = c.run(&state(&three()));
    assert!(r.last_errors.is_empty(), "not the route pass's error");
    assert_eq!(c.rec.kernel.k.routes.len(), 2, "routes go in regardless");
    assert!(!r.ready());
    let why = r.not_ready().unwrap();
    assert!(why.contains("applying the node rules"), "{why}");
    let page = r.render();
    let line = "error:    applying the node rules (nftables table inet lichen): Operation not";
    assert!(page.contains(line), "{page}");
    let m = super::metrics::render(&r, None);
    assert!(m.contains("lichen_node_rules_errors_total 1\n"), "{m}");
    c.firewall.firewall.refuse = None;
    c.resync_rules();
    let r = c.run(&state(&three()));
    assert!(r.ready(), "{:?}", r.not_ready());
}
