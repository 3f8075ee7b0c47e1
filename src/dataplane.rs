//! The plugin's data plane on one node: the bridge, a veth pair per pod, addresses and routes
//! inside the pod; or, in routed mode (`routed.rs`), no bridge and a route per pod address on
//! the node. Idempotent where the spec asks for it (DEL), all-or-nothing for ADD.
//!
//! Design notes:
//! - Two netlink sockets per operation at most: one in the node's namespace (the calling
//!   thread's) and one opened inside the pod's namespace. The pod end of the veth is created
//!   from the node directly inside the pod (`IFLA_NET_NS_FD` in the peer message) under its
//!   final name, up, with its MTU: no rename, no move, no second namespace switch.
//! - Round trips are counted and kept low (see `attach`): requests that need no answer before
//!   the next go in one datagram (`Nl::batch`); nothing is spawned, no thread either.
//! - ADD rolls back by deleting the host end (the pod end goes with it); DEL deletes the host
//!   end by its deterministic name first, which needs no namespace switch.
//! - Once attached, the kernel announces the pod's addresses from the pod (gratuitous ARP,
//!   unsolicited NA: see `announce.rs`), asked through the pod's netlink socket.
//! - `loopback.rs`: `lo` in a pod, for `lichen` invoked as `loopback`.
//! - `veth.rs`: creating and plumbing a pod's veth pair; `bridge.rs`: the node's bridge;
//!   `routed.rs`: routed mode's ADD (link-local gateway, proxy ARP, host routes); `mode.rs`:
//!   the mode of a config without one (routed, unless the node's bridge has ports);
//!   `tests.rs`: the kernel tests (in throwaway namespaces).

mod announce;
mod bridge;
mod loopback;
mod mode;
mod routed;
mod veth;

pub use bridge::{bridge_mac, bridge_state};
pub use loopback::{loopback_down, loopback_is_up, loopback_up};
pub use mode::node_mode;
pub use routed::{
    attach_routed, gateway_for, gateways, remove_unreachable, GATEWAY_V4, GATEWAY_V6, HOST_MAC,
    RT_PROTO_POD, UNREACHABLE_METRIC,
};
pub use veth::HostEnd;
use veth::{create_veth, host_peer, plumb};

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::netns::NetNs;
use crate::nl::{self, Link, LinkId, Nl, TABLE_MAIN};

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
    /// IPv4 gateways are on the link whatever the pod's prefix (routed mode's link-local one).
    pub onlink: bool,
    /// Routed mode: the pod's subnets (IPAM's ranges), made unreachable on the node below the
    /// pod routes (see `routed.rs`); empty in bridge mode.
    pub subnets: Vec<IpNet>,
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
    /// None in routed mode.
    pub bridge: Option<LinkInfo>,
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
    /// Host side: the veth peer (its name, the bridge it is a port of, its pod routes, proxy
    /// ARP, addresses), if found.
    pub host: Option<HostEnd>,
    /// The pod's neighbour entries on the interface for the link-local gateways
    /// ([`GATEWAY_V4`], [`GATEWAY_V6`]; routed mode's, permanent with [`HOST_MAC`]); listed
    /// only for a routed pod (a host end with no master), empty otherwise.
    pub gateway_neighbours: Vec<nl::Neigh>,
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
    /// The host end's name is taken on the node by a link that is not a veth (so not a stale
    /// host end of ours): its name and kind.
    HostEndTaken(String, String),
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
            DpError::HostEndTaken(n, kind) => write!(
                f,
                "the pod's host end {n:?} is taken on the node by a {kind} link lichen did not make"
            ),
            DpError::Kernel(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for DpError {}

/// The host-side veth name of an attachment: `lic` + 12 hex digits of a stable hash of the
/// spec's attachment key (network name, container ID, ifname). Deterministic so DEL can find it
/// without state. The network is part of it: one container may be attached to two networks
/// under the same ifname (in two namespaces), and ADD replaces a host end of its own name as a
/// stale one. (Attachments made while the key left the network out keep their old name; their
/// DEL falls back to deleting the pod end, which takes the host end with it.)
pub fn host_veth_name(network: &str, container_id: &str, ifname: &str) -> String {
    let key: Vec<u8> = network
        .bytes()
        .chain([0])
        .chain(container_id.bytes())
        .chain([0])
        .chain(ifname.bytes())
        .collect();
    // the top 48 bits are the best mixed
    format!("lic{:012x}", lichen_backends::fnv1a(&key) >> 16)
}

/// Whether `name` is a host end's name as [`host_veth_name`] makes them.
pub fn is_host_veth_name(name: &str) -> bool {
    name.len() == 15 && name.starts_with("lic") && name[3..].bytes().all(|b| b.is_ascii_hexdigit())
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
/// lookup) + 1 per bridge address + 1 (veth) + 1 (hairpin, if asked) + 1 (pod end up, and its
/// lookup) + 1 (the pod's addresses and routes, one batch) + 1 (host end lookup) [+ 1 bridge
/// re-read when its MAC may have changed] + 1 (the pod end's MAC set again: the announcement).
/// IPv4 only, one route: 8 (9). Requests in one round trip go in one datagram (`Nl::batch`).
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
    let Checked { ns, nl: mut pod_nl } = checked;
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let (br, made) = bridge::ensure_bridge(&mut host, bridge)?;
    let v6 = bridge
        .addresses
        .iter()
        .chain(&pod.addresses)
        .any(|a| a.addr().is_ipv6());
    let veth = enable_forwarding(v6)
        .and_then(|()| create_veth(&mut host, &mut pod_nl, &ns, pod, (Some(br.index), None)));
    if let Err(e) = veth {
        made.undo(&mut host, &bridge.name);
        return Err(e);
    }
    match plumb(&mut host, &mut pod_nl, pod, None) {
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
            announce::announce(&ns, &mut pod_nl, &pod_link, &pod.addresses);
            Ok(Attached {
                bridge: Some(info(&br)),
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
    match veth_named(&mut host, host_veth)? {
        Named::Veth(index) => match host.delete_link(LinkId::Index(index)) {
            Ok(()) => return Ok(()),
            Err(e) if nl::is_not_found(&e) => {}
            Err(e) => return Err(DpError::Kernel(format!("delete {host_veth}"), e)),
        },
        Named::Other(kind) => {
            log::warn!("DEL: {host_veth} on the node is a {kind} link, not a veth: left alone")
        }
        Named::Nothing => {}
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
    match veth_named(&mut pod_nl, ifname)? {
        Named::Veth(index) => nl::missing_ok(pod_nl.delete_link(LinkId::Index(index)))
            .map_err(|e| DpError::Kernel(format!("delete {ifname} in the pod"), e)),
        Named::Other(_) | Named::Nothing => Ok(()),
    }
}

/// What holds a name that one of our veth ends should have.
enum Named {
    Nothing,
    /// A veth (ours, perhaps stale): its index.
    Veth(u32),
    /// A link of another kind ("plain" for one without a kind): never ours to delete.
    Other(String),
}

fn veth_named(nl: &mut Nl, name: &str) -> Result<Named, DpError> {
    Ok(match find(nl, name)? {
        None => Named::Nothing,
        Some(link) if link.is_kind("veth") => Named::Veth(link.index),
        Some(link) => Named::Other(link.kind.unwrap_or_else(|| "plain".into())),
    })
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
    let host = host_peer(&link)?;
    // A bridged pod's neighbours are its peers': nothing of ours to check (and no round trip).
    let gateway_neighbours = match host.as_ref().is_some_and(|h| h.master.is_none()) {
        true => pod_nl
            .neighs(link.index)
            .map_err(kernel("list neighbours in the pod"))?
            .into_iter()
            .filter(|n| n.ip == gateway_for(n.ip))
            .collect(),
        false => Vec::new(),
    };
    Ok(PodState {
        link: info(&link),
        addresses,
        routes,
        host,
        gateway_neighbours,
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

/// One netlink batch (see [`Nl::batch`]): `f` queues requests, noting for each what it does
/// and whether EEXIST is success; the first failure is the error, worded as when the requests
/// went one by one. `socket` names the socket for a send or receive failure.
fn batch(
    nl: &mut Nl,
    socket: &'static str,
    f: impl FnOnce(&mut Nl, &mut Vec<(String, bool)>) -> io::Result<()>,
) -> Result<(), DpError> {
    let mut what = Vec::new();
    let results = nl
        .batch(|nl| f(nl, &mut what))
        .map_err(|e| DpError::Kernel(what.last().map(|w| w.0.clone()).unwrap_or_default(), e))?
        .map_err(kernel(socket))?;
    for ((w, exists_ok), r) in what.into_iter().zip(results) {
        let r = if exists_ok { nl::exists_ok(r) } else { r };
        r.map_err(|e| DpError::Kernel(w, e))?;
    }
    Ok(())
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
    let mut nl = ns
        .run(Nl::open)
        .map_err(kernel("open netlink in the pod namespace"))?;
    match find(&mut nl, ifname)? {
        Some(_) => Err(DpError::IfnameExists(ifname.to_owned())),
        None => Ok(Checked { ns, nl }),
    }
}

/// A pod namespace that [`preflight`] opened and found without the interface to create, with
/// a netlink socket inside it.
pub struct Checked {
    ns: NetNs,
    nl: Nl,
}

#[cfg(test)]
mod tests;
