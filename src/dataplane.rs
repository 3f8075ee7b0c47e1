//! The plugin's data plane on one node: the bridge, a veth pair per pod, addresses and routes
//! inside the pod. Idempotent where the spec asks for it (DEL), all-or-nothing for ADD.
//!
//! Design notes:
//! - Two netlink sockets per operation at most: one in the node's namespace (the calling
//!   thread's) and one opened inside the pod's namespace. The pod end of the veth is created
//!   from the node directly inside the pod (`IFLA_NET_NS_FD` in the peer message) under its
//!   final name, up, with its MTU: no rename, no move, no second namespace switch.
//! - Round trips are counted and kept low (see `attach`); nothing is spawned.
//! - ADD rolls back by deleting the host end (the pod end goes with it); DEL deletes the host
//!   end by its deterministic name first, which needs no namespace switch.
//! - Once attached, the pod announces its addresses (gratuitous ARP, unsolicited NA: see
//!   `announce.rs`) over a packet socket opened in the pod together with the netlink socket.
//! - `loopback.rs`: `lo` in a pod, for `lichen` invoked as `loopback`.

mod announce;
mod bridge;
mod loopback;

pub use announce::Announcer;
pub use bridge::{bridge_mac, bridge_state};
pub use loopback::{loopback_down, loopback_is_up, loopback_up};

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::netns::NetNs;
use crate::nl::{self, Link, LinkChange, LinkId, LinkKind, NewLink, Nl, Route, TABLE_MAIN};

/// The node's bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    pub mtu: Option<u32>,
    /// Gateway addresses to put on the bridge, with the subnet prefix (e.g. 10.42.1.1/24).
    pub addresses: Vec<IpNet>,
}

/// One pod attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSpec {
    pub netns: PathBuf,
    /// CNI_IFNAME: the name of the pod end inside the pod.
    pub ifname: String,
    /// A fixed MAC for the pod end (the runtime asked for one); else the kernel picks one.
    pub mac: Option<[u8; 6]>,
    /// The host end's name (see [`host_veth_name`]).
    pub host_veth: String,
    pub mtu: Option<u32>,
    pub hairpin: bool,
    /// Addresses for the pod interface, with prefix.
    pub addresses: Vec<IpNet>,
    /// Routes inside the pod (dst, gateway). A gateway on the pod's subnet needs no onlink.
    pub routes: Vec<(IpNet, Option<IpAddr>)>,
}

/// What an interface looks like, for results and CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub name: String,
    /// Lower-case `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    pub mtu: u32,
}

/// What ADD created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub bridge: LinkInfo,
    pub host_veth: LinkInfo,
    pub pod: LinkInfo,
}

/// The state of a pod interface as the kernel has it (CHECK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub link: LinkInfo,
    pub addresses: Vec<IpNet>,
    /// Routes in the main table on that interface: (dst, gateway).
    pub routes: Vec<(IpNet, Option<IpAddr>)>,
    /// Host side: the veth peer's name and the bridge it is enslaved to, if found.
    pub host_veth: Option<String>,
    pub host_master: Option<String>,
}

#[derive(Debug)]
pub enum DpError {
    /// CNI_NETNS does not exist or is not a network namespace.
    NetnsMissing(PathBuf, io::Error),
    /// CNI_IFNAME already exists inside the pod.
    IfnameExists(String),
    /// The interface asked about does not exist (CHECK).
    NoSuchInterface(String),
    /// The bridge name is taken by an interface that is not a bridge.
    NotABridge(String),
    /// A kernel operation failed: what was being done, and the error (errno kept).
    Kernel(String, io::Error),
}

impl std::fmt::Display for DpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DpError::NetnsMissing(p, e) => {
                write!(f, "network namespace {} cannot be opened: {e}", p.display())
            }
            DpError::IfnameExists(n) => {
                write!(
                    f,
                    "an interface named {n:?} already exists in the pod's namespace"
                )
            }
            DpError::NoSuchInterface(n) => write!(f, "interface {n:?} not found"),
            DpError::NotABridge(n) => write!(f, "{n:?} exists on the host and is not a bridge"),
            DpError::Kernel(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for DpError {}

/// The host-side veth name of an attachment: `lic` + 12 hex digits of a stable hash of
/// (container ID, ifname). Deterministic so DEL and GC can find it without state.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let key: Vec<u8> = container_id
        .bytes()
        .chain([0])
        .chain(ifname.bytes())
        .collect();
    // the top 48 bits are the best mixed
    format!("lic{:012x}", lichen_backends::fnv1a(&key) >> 16)
}

/// ADD's data plane: ensure the bridge (create if missing, tolerate a concurrent creator, set
/// MTU, add addresses tolerating EEXIST, up), then the veth pair (the pod end created directly
/// inside the netns under `ifname`, MTU, up), the host end enslaved to the bridge with hairpin as
/// asked, addresses and routes in the pod, and IPv4/IPv6 forwarding on in the host namespace.
/// Fails with `IfnameExists` before creating anything if `ifname` exists in the pod. On any
/// failure it removes the veth it created, and what it changed on the bridge (see
/// [`bridge::Made::undo`]), before returning the error.
///
/// Netlink round trips with the bridge already in place: 1 (ifname check in the pod) + 1 (bridge
/// lookup) + 1 per bridge address + 1 (veth) + 1 (hairpin, if asked) + 1 (pod end up) + 1 (pod
/// end lookup) + 1 per pod address + 1 per pod route + 1 (host end lookup) [+ 1 bridge re-read
/// when its MAC may have changed]. IPv4 only, one route: 10 (11).
pub fn attach(bridge: &BridgeSpec, pod: &PodSpec) -> Result<Attached, DpError> {
    attach_checked(bridge, pod, preflight(&pod.netns, &pod.ifname)?)
}

/// [`attach`] for a pod namespace [`preflight`] already opened and checked: ADD keeps the
/// namespace and its netlink socket across IPAM instead of opening them twice.
pub fn attach_checked(
    bridge: &BridgeSpec,
    pod: &PodSpec,
    checked: Checked,
) -> Result<Attached, DpError> {
    let Checked {
        ns,
        nl: mut pod_nl,
        announcer,
    } = checked;
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let (br, made) = bridge::ensure_bridge(&mut host, bridge)?;
    let v6 = bridge
        .addresses
        .iter()
        .chain(&pod.addresses)
        .any(|a| a.addr().is_ipv6());
    let veth = enable_forwarding(v6)
        .and_then(|()| create_veth(&mut host, &mut pod_nl, &ns, pod, br.index));
    if let Err(e) = veth {
        made.undo(&mut host, &bridge.name);
        return Err(e);
    }
    match plumb(&mut host, &mut pod_nl, pod) {
        Ok((host_veth, pod_link)) => {
            // A bridge without a MAC of its own takes its lowest port's: re-read it when the
            // new port may have changed it.
            let br = if host_veth.mac < br.mac {
                // Best effort: the attachment is complete, a failed re-read must not undo it.
                find(&mut host, &bridge.name).ok().flatten().unwrap_or(br)
            } else {
                br
            };
            // Only now: the host end's lookup at the end of `plumb` (RTM_GETLINK) has the
            // kernel run the host end's pending carrier event first (link-watch), which is what
            // moves the bridge port out of the disabled state. Sent earlier, the bridge drops the
            // announcement (measured: tests/mac.rs's reload case then fails every time).
            if let Some(a) = &announcer {
                a.announce(pod_link.index, &pod_link.mac, &pod.addresses);
            }
            Ok(Attached {
                bridge: info(&br),
                host_veth: info(&host_veth),
                pod: info(&pod_link),
            })
        }
        Err(e) => {
            if let Err(undo) = nl::missing_ok(host.delete_link(LinkId::Name(&pod.host_veth))) {
                log::warn!("rollback: cannot delete {}: {undo}", pod.host_veth);
            }
            made.undo(&mut host, &bridge.name);
            Err(e)
        }
    }
}

/// DEL's data plane: delete the pod's interface (and with it the host end). A missing netns or
/// interface is success. Also deletes a leftover host end named `host_veth`.
pub fn detach(netns: Option<&Path>, ifname: &str, host_veth: &str) -> Result<(), DpError> {
    // Deleting the host end takes the pod end with it, without entering the pod.
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    match host.delete_link(LinkId::Name(host_veth)) {
        Ok(()) => return Ok(()),
        Err(e) if nl::is_not_found(&e) => {}
        Err(e) => return Err(DpError::Kernel(format!("delete {host_veth}"), e)),
    }
    let Some(path) = netns else {
        return Ok(());
    };
    let ns = match NetNs::open(path) {
        Ok(ns) => ns,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(DpError::NetnsMissing(path.to_path_buf(), e)),
    };
    let mut pod_nl = Nl::open_in(&ns).map_err(kernel("open netlink in the pod namespace"))?;
    // Only a veth can be ours; leave anything else the pod has under that name alone.
    match find(&mut pod_nl, ifname)? {
        Some(link) if link.is_kind("veth") => {
            nl::missing_ok(pod_nl.delete_link(LinkId::Index(link.index)))
                .map_err(|e| DpError::Kernel(format!("delete {ifname} in the pod"), e))
        }
        _ => Ok(()),
    }
}

/// CHECK's view of an attachment.
///
/// Addresses leave out IPv6 link-local ones (the kernel's own); routes are every unicast route
/// of the main table through the interface, the kernel's prefix routes included.
pub fn inspect(netns: &Path, ifname: &str) -> Result<PodState, DpError> {
    let ns = NetNs::open(netns).map_err(|e| DpError::NetnsMissing(netns.to_path_buf(), e))?;
    let mut pod_nl = Nl::open_in(&ns).map_err(kernel("open netlink in the pod namespace"))?;
    let link = find(&mut pod_nl, ifname)?.ok_or_else(|| DpError::NoSuchInterface(ifname.into()))?;
    let addresses = pod_nl
        .addrs(Some(link.index))
        .map_err(kernel("list addresses in the pod"))?
        .into_iter()
        .map(|a| a.net)
        .filter(|n| !is_v6_link_local(n))
        .collect();
    let routes = pod_nl
        .routes(TABLE_MAIN, Some(link.index))
        .map_err(kernel("list routes in the pod"))?
        .into_iter()
        .map(|r| (r.dst, r.gateway))
        .collect();
    let (host_veth, host_master) = host_peer(&link)?;
    Ok(PodState {
        link: info(&link),
        addresses,
        routes,
        host_veth,
        host_master,
    })
}

/// Turns on IPv4 (and IPv6) forwarding in the calling thread's namespace (`/proc/sys/net` is
/// per namespace).
fn enable_forwarding(v6: bool) -> Result<(), DpError> {
    let mut files = vec!["/proc/sys/net/ipv4/ip_forward"];
    if v6 {
        files.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for f in files {
        std::fs::write(f, b"1").map_err(|e| DpError::Kernel(format!("write {f}"), e))?;
    }
    Ok(())
}

/// Creates the veth pair: host end enslaved and up, pod end inside the pod as `ifname`.
/// A stale host end of the same attachment (a crashed earlier ADD) is replaced.
fn create_veth(
    host: &mut Nl,
    pod_nl: &mut Nl,
    ns: &NetNs,
    pod: &PodSpec,
    bridge: u32,
) -> Result<(), DpError> {
    // Not up yet: a veth peer cannot be opened before its pair is complete (ENOTCONN).
    let peer = NewLink {
        name: &pod.ifname,
        mtu: pod.mtu,
        up: false,
        netns: Some(ns),
        mac: pod.mac,
        ..NewLink::default()
    };
    let veth = NewLink {
        name: &pod.host_veth,
        mtu: pod.mtu,
        master: Some(bridge),
        up: true,
        ..NewLink::default()
    };
    let kind = LinkKind::Veth { peer };
    let what = || format!("create veth {} / {}", pod.host_veth, pod.ifname);
    match host.create_link(&veth, &kind) {
        Ok(()) => return Ok(()),
        Err(e) if nl::is_exists(&e) => {}
        Err(e) => return Err(DpError::Kernel(what(), e)),
    }
    // EEXIST: either `ifname` appeared in the pod since the check, or the host name is taken.
    if find(pod_nl, &pod.ifname)?.is_some() {
        return Err(DpError::IfnameExists(pod.ifname.clone()));
    }
    nl::missing_ok(host.delete_link(LinkId::Name(&pod.host_veth)))
        .map_err(|e| DpError::Kernel(format!("delete stale {}", pod.host_veth), e))?;
    host.create_link(&veth, &kind)
        .map_err(|e| DpError::Kernel(what(), e))
}

/// Everything after the veth exists: hairpin, pod end up, its addresses and routes. Returns
/// the host end and the pod end as they now are.
fn plumb(host: &mut Nl, pod_nl: &mut Nl, pod: &PodSpec) -> Result<(Link, Link), DpError> {
    if pod.hairpin {
        host.set_hairpin(LinkId::Name(&pod.host_veth), true)
            .map_err(|e| DpError::Kernel(format!("set hairpin on {}", pod.host_veth), e))?;
    }
    let up = LinkChange {
        up: Some(true),
        ..LinkChange::default()
    };
    pod_nl
        .set_link(LinkId::Name(&pod.ifname), &up)
        .map_err(|e| DpError::Kernel(format!("set {} up in the pod", pod.ifname), e))?;
    let pod_link =
        find(pod_nl, &pod.ifname)?.ok_or_else(|| DpError::NoSuchInterface(pod.ifname.clone()))?;
    for &addr in &pod.addresses {
        pod_nl
            .add_addr(pod_link.index, addr, true)
            .map_err(|e| DpError::Kernel(format!("add {addr} to {} in the pod", pod.ifname), e))?;
    }
    for &(dst, gw) in &pod.routes {
        let route = Route::new(dst, gw, Some(pod_link.index));
        // EEXIST: the kernel's own prefix route already is this route.
        nl::exists_ok(pod_nl.add_route(&route)).map_err(|e| {
            let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
            DpError::Kernel(format!("add route {dst}{via} in the pod"), e)
        })?;
    }
    let host_veth = find(host, &pod.host_veth)?
        .ok_or_else(|| DpError::NoSuchInterface(pod.host_veth.clone()))?;
    Ok((host_veth, pod_link))
}

/// The host end of a pod's veth (seen from the calling thread's namespace) and its master.
fn host_peer(pod_link: &Link) -> Result<(Option<String>, Option<String>), DpError> {
    let Some(peer) = pod_link.link.filter(|_| pod_link.is_kind("veth")) else {
        return Ok((None, None));
    };
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let found = host
        .link(LinkId::Index(peer))
        .map_err(kernel("look up the host end"))?;
    // Index numbers are per namespace: make sure this is the pod end's peer.
    let Some(veth) = found.filter(|l| l.is_kind("veth") && l.link == Some(pod_link.index)) else {
        return Ok((None, None));
    };
    let master = match veth.master {
        Some(m) => host
            .link(LinkId::Index(m))
            .map_err(kernel("look up the bridge"))?
            .map(|l| l.name),
        None => None,
    };
    Ok((Some(veth.name), master))
}

fn find(nl: &mut Nl, name: &str) -> Result<Option<Link>, DpError> {
    nl.link(LinkId::Name(name))
        .map_err(|e| DpError::Kernel(format!("look up {name}"), e))
}

fn info(link: &Link) -> LinkInfo {
    LinkInfo {
        name: link.name.clone(),
        mac: link.mac_string(),
        mtu: link.mtu,
    }
}

fn kernel(what: &'static str) -> impl FnOnce(io::Error) -> DpError {
    move |e| DpError::Kernel(what.to_string(), e)
}

/// A namespace path that no longer names a namespace (deleted, or its bind mount gone).
fn gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
    )
}

fn is_v6_link_local(n: &IpNet) -> bool {
    matches!(n.addr(), IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80)
}

/// ADD's checks that need the kernel but change nothing: the netns opens and is a network
/// namespace (`NetnsMissing` otherwise) and `ifname` does not exist in it (`IfnameExists`).
/// Run before IPAM so a refused ADD leases nothing.
pub fn preflight(netns: &Path, ifname: &str) -> Result<Checked, DpError> {
    let ns = NetNs::open(netns).map_err(|e| DpError::NetnsMissing(netns.to_path_buf(), e))?;
    // Both sockets in one visit to the namespace.
    let (mut nl, announcer) = ns
        .run(|| Ok((Nl::open()?, Announcer::open())))
        .map_err(kernel("open netlink in the pod namespace"))?;
    let announcer = announcer
        .inspect_err(|e| log::warn!("no gratuitous ARP/NA: cannot open a packet socket: {e}"))
        .ok();
    match find(&mut nl, ifname)? {
        Some(_) => Err(DpError::IfnameExists(ifname.to_owned())),
        None => Ok(Checked { ns, nl, announcer }),
    }
}

/// A pod namespace that [`preflight`] opened and found without the interface to create, with
/// a netlink socket and a packet socket (for announcing the pod's addresses) inside it.
pub struct Checked {
    ns: NetNs,
    nl: Nl,
    announcer: Option<Announcer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use testkit::{assert_outside_root, enter_node, pod, run_ok, NamedNs};

    const BR: &str = "licbr0";

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn bridge() -> BridgeSpec {
        BridgeSpec {
            name: BR.into(),
            mtu: Some(1450),
            addresses: vec![net("10.42.1.1/24"), net("fd42:1::1/64")],
        }
    }

    fn pod_spec(pod: &NamedNs, n: u8) -> PodSpec {
        PodSpec {
            netns: pod.path.clone(),
            ifname: "eth0".into(),
            mac: None,
            host_veth: host_veth_name(&pod.name, "eth0"),
            mtu: Some(1450),
            hairpin: true,
            addresses: vec![
                net(&format!("10.42.1.{n}/24")),
                net(&format!("fd42:1::{n:x}/64")),
            ],
            routes: vec![
                (net("0.0.0.0/0"), Some("10.42.1.1".parse().unwrap())),
                (net("::/0"), Some("fd42:1::1".parse().unwrap())),
            ],
        }
    }

    /// Links in the node namespace whose name starts with `lic` (bridge and host ends).
    fn node_links() -> Vec<String> {
        let mut nl = Nl::open().unwrap();
        nl.links()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .filter(|n| n.starts_with("lic"))
            .collect()
    }

    #[test]
    fn host_veth_names_are_stable_short_and_distinct() {
        let a = host_veth_name("abc", "eth0");
        assert_eq!(a, host_veth_name("abc", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("lic"));
        assert_ne!(a, host_veth_name("abc", "eth1"));
        assert_ne!(a, host_veth_name("abce", "th0"));
    }

    #[test]
    fn two_pods_on_one_bridge() {
        testkit::require_root!();
        enter_node();
        let (a, b) = (pod("dp"), pod("dp"));
        let (sa, sb) = (pod_spec(&a, 2), pod_spec(&b, 3));
        let t = Instant::now();
        let att_a = attach(&bridge(), &sa).unwrap();
        let first = t.elapsed();
        let t = Instant::now();
        let att_b = attach(&bridge(), &sb).unwrap();
        eprintln!(
            "attach: first (creates bridge) {first:?}, second {:?}",
            t.elapsed()
        );

        // What attach reports matches the kernel.
        assert_eq!(att_a.bridge.name, BR);
        assert_eq!(att_a.host_veth.name, sa.host_veth);
        assert_eq!(att_a.pod.name, "eth0");
        assert_eq!((att_a.pod.mtu, att_a.host_veth.mtu), (1450, 1450));
        assert_eq!(att_a.pod.mac.len(), 17);
        let mut nl = Nl::open().unwrap();
        let br = nl.link(LinkId::Name(BR)).unwrap().unwrap();
        assert_eq!(att_b.bridge.mac, br.mac_string());
        assert!(br.up && br.is_kind("bridge") && br.mtu == 1450);
        for s in [&sa, &sb] {
            let veth = nl.link(LinkId::Name(&s.host_veth)).unwrap().unwrap();
            assert_eq!(veth.master, Some(br.index));
            assert!(veth.up);
            assert_eq!(veth.mtu, 1450);
            let details = run_ok("ip", &["-d", "-o", "link", "show", "dev", &s.host_veth]);
            assert!(details.contains("hairpin on"), "{details}");
        }
        let br_addrs = run_ok("ip", &["-o", "addr", "show", "dev", BR]);
        assert!(br_addrs.contains("10.42.1.1/24") && br_addrs.contains("fd42:1::1/64"));
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            "1\n"
        );

        // Inside the pod: addresses (IPv6 not tentative), routes, link.
        let addrs = a.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap();
        assert!(addrs.contains("10.42.1.2/24"), "{addrs}");
        let v6 = addrs.lines().find(|l| l.contains("fd42:1::2/64"));
        assert!(v6.is_some_and(|l| !l.contains("tentative")), "{addrs}");
        let r4 = a.ip(&["-4", "route", "show", "default"]).unwrap();
        assert!(r4.contains("via 10.42.1.1 dev eth0"), "{r4}");
        let r6 = a.ip(&["-6", "route", "show", "default"]).unwrap();
        assert!(r6.contains("via fd42:1::1 dev eth0"), "{r6}");
        let link = a.ip(&["-o", "link", "show", "dev", "eth0"]).unwrap();
        assert!(
            link.contains("mtu 1450") && link.contains("state UP"),
            "{link}"
        );

        // Traffic: pod to pod both families, pod to the gateway.
        assert!(a.ping("10.42.1.3", 1).unwrap());
        assert!(b.ping("10.42.1.2", 1).unwrap());
        assert!(a.ping("10.42.1.1", 1).unwrap());
        assert!(a.ping("fd42:1::3", 1).unwrap());
        assert!(b.ping("fd42:1::1", 1).unwrap());

        // Bridge state for STATUS/CHECK.
        let (info, addrs) = bridge_state(BR).unwrap().unwrap();
        assert_eq!(info.name, BR);
        assert!(addrs.contains(&net("10.42.1.1/24")) && addrs.contains(&net("fd42:1::1/64")));
        assert!(bridge_state("licnone").unwrap().is_none());
    }

    #[test]
    fn concurrent_attaches_share_one_bridge() {
        testkit::require_root!();
        enter_node();
        let pods: Vec<NamedNs> = (0..6).map(|_| pod("dp")).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = pods
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let spec = pod_spec(p, 10 + i as u8);
                    s.spawn(move || {
                        assert_outside_root();
                        attach(&bridge(), &spec)
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        let links = node_links();
        assert_eq!(links.iter().filter(|n| *n == BR).count(), 1);
        assert_eq!(links.len(), 7, "{links:?}");
        assert!(pods[0].ping("10.42.1.15", 1).unwrap());
        assert!(pods[5].ping("10.42.1.1", 1).unwrap());
    }

    #[test]
    fn existing_ifname_fails_and_creates_nothing() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        p.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "other0",
        ])
        .unwrap();
        let err = attach(&bridge(), &pod_spec(&p, 2)).unwrap_err();
        assert!(
            matches!(err, DpError::IfnameExists(ref n) if n == "eth0"),
            "{err}"
        );
        assert!(node_links().is_empty(), "{:?}", node_links());
        // The pod's own eth0 is untouched.
        assert!(p
            .ip(&["-o", "link", "show", "dev", "eth0"])
            .unwrap()
            .contains("eth0@other0"));
    }

    /// A spec that fails after the veth exists: a route via a gateway outside every subnet of
    /// the pod (ENETUNREACH).
    fn failing_spec(p: &NamedNs, n: u8) -> PodSpec {
        let mut spec = pod_spec(p, n);
        spec.routes
            .push((net("10.99.0.0/16"), Some("10.77.0.1".parse().unwrap())));
        spec
    }

    fn bridge_addrs() -> String {
        run_ok("ip", &["-o", "addr", "show", "dev", BR])
    }

    #[test]
    fn failure_after_veth_rolls_back() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        let err = attach(&bridge(), &failing_spec(&p, 2)).unwrap_err();
        match err {
            DpError::Kernel(_, ref e) => assert_eq!(e.raw_os_error(), Some(libc::ENETUNREACH)),
            ref other => panic!("unexpected {other}"),
        }
        // This ADD created the bridge: it goes too, with its addresses.
        assert!(node_links().is_empty(), "{:?}", node_links());
        assert!(!p.ip(&["-o", "link"]).unwrap().contains("eth0"));
        // The same attachment succeeds afterwards.
        attach(&bridge(), &pod_spec(&p, 2)).unwrap();
        assert!(p.ping("10.42.1.1", 1).unwrap());
    }

    #[test]
    fn failure_removes_only_the_addresses_it_added() {
        testkit::require_root!();
        enter_node();
        // A bridge from before, without ports, holding one of the two gateway addresses.
        run_ok("ip", &["link", "add", BR, "type", "bridge"]);
        run_ok("ip", &["addr", "add", "10.42.1.1/24", "dev", BR]);
        let p = pod("dp");
        attach(&bridge(), &failing_spec(&p, 2)).unwrap_err();
        assert_eq!(node_links(), vec![BR.to_string()]);
        let addrs = bridge_addrs();
        assert!(addrs.contains("10.42.1.1/24"), "{addrs}");
        assert!(!addrs.contains("fd42:1::1/64"), "{addrs}");
    }

    #[test]
    fn failure_keeps_what_other_pods_use() {
        testkit::require_root!();
        enter_node();
        let (a, b) = (pod("dp"), pod("dp"));
        let sa = pod_spec(&a, 2);
        attach(&bridge(), &sa).unwrap();
        // Another network's gateway on the same bridge: the bridge has a port (pod a), so the
        // failed ADD leaves the bridge and its addresses to it.
        let other = BridgeSpec {
            addresses: vec![net("10.43.1.1/24")],
            ..bridge()
        };
        attach(&other, &failing_spec(&b, 3)).unwrap_err();
        let mut want = vec![BR.to_string(), sa.host_veth.clone()];
        want.sort();
        let mut links = node_links();
        links.sort();
        assert_eq!(links, want);
        assert!(bridge_addrs().contains("10.42.1.1/24"));
        assert!(a.ping("10.42.1.1", 1).unwrap());
    }

    #[test]
    fn stale_host_end_is_replaced() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        let spec = pod_spec(&p, 2);
        // A crashed earlier ADD left the host end behind (its peer elsewhere).
        run_ok(
            "ip",
            &[
                "link",
                "add",
                &spec.host_veth,
                "type",
                "veth",
                "peer",
                "name",
                "licstale",
            ],
        );
        attach(&bridge(), &spec).unwrap();
        let links = node_links();
        assert!(!links.contains(&"licstale".to_string()), "{links:?}");
        assert!(p.ping("10.42.1.1", 1).unwrap());
    }

    #[test]
    fn not_a_bridge() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        run_ok(
            "ip",
            &["link", "add", BR, "type", "veth", "peer", "name", "licpeer"],
        );
        let err = attach(&bridge(), &pod_spec(&p, 2)).unwrap_err();
        assert!(matches!(err, DpError::NotABridge(_)), "{err}");
        assert!(matches!(bridge_state(BR), Err(DpError::NotABridge(_))));
        assert_eq!(node_links().len(), 2);
    }

    #[test]
    fn detach_is_idempotent() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        let spec = pod_spec(&p, 2);
        attach(&bridge(), &spec).unwrap();
        detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
        assert_eq!(node_links(), vec![BR.to_string()]);
        assert!(!p.ip(&["-o", "link"]).unwrap().contains("eth0"));
        detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
        detach(None, "eth0", &spec.host_veth).unwrap();

        // The pod's own interface under that name is not ours: left alone.
        p.ip(&["link", "add", "eth0", "type", "bridge"]).unwrap();
        detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
        assert!(p.ip(&["-o", "link"]).unwrap().contains("eth0"));
    }

    #[test]
    fn detach_with_netns_gone() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        let spec = pod_spec(&p, 2);
        attach(&bridge(), &spec).unwrap();
        drop(p);
        detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
        detach(None, "eth0", &spec.host_veth).unwrap();
        assert_eq!(node_links(), vec![BR.to_string()]);
        assert!(matches!(
            inspect(&spec.netns, "eth0"),
            Err(DpError::NetnsMissing(..))
        ));
        let err = attach(&bridge(), &spec).unwrap_err();
        assert!(matches!(err, DpError::NetnsMissing(..)), "{err}");
        assert_eq!(node_links(), vec![BR.to_string()]);
    }

    #[test]
    fn inspect_reports_what_attach_made() {
        testkit::require_root!();
        enter_node();
        let p = pod("dp");
        let spec = pod_spec(&p, 2);
        let att = attach(&bridge(), &spec).unwrap();
        let st = inspect(&spec.netns, "eth0").unwrap();
        assert_eq!(st.link, att.pod);
        assert_eq!(st.addresses, spec.addresses);
        for r in &spec.routes {
            assert!(st.routes.contains(r), "{r:?} not in {:?}", st.routes);
        }
        assert!(st.routes.contains(&(net("10.42.1.0/24"), None)));
        assert_eq!(st.host_veth.as_deref(), Some(spec.host_veth.as_str()));
        assert_eq!(st.host_master.as_deref(), Some(BR));

        p.ip(&["addr", "del", "10.42.1.2/24", "dev", "eth0"])
            .unwrap();
        let st = inspect(&spec.netns, "eth0").unwrap();
        assert_eq!(st.addresses, vec![net("fd42:1::2/64")]);
        assert!(!st.routes.iter().any(|(d, _)| d.addr().is_ipv4()));
        assert!(matches!(
            inspect(&spec.netns, "eth9"),
            Err(DpError::NoSuchInterface(_))
        ));
    }
}
