//! The plugin's data plane on one node: the bridge, a veth pair per pod, addresses and routes
//! inside the pod. Idempotent where the spec asks for it (DEL), all-or-nothing for ADD.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

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
    let _ = (container_id, ifname);
    todo!("dataplane::host_veth_name")
}

/// ADD's data plane: ensure the bridge (create if missing, tolerate a concurrent creator, set
/// MTU, add addresses tolerating EEXIST, up), then the veth pair (the pod end created directly
/// inside the netns under `ifname`, MTU, up), the host end enslaved to the bridge with hairpin as
/// asked, addresses and routes in the pod, and IPv4/IPv6 forwarding on in the host namespace.
/// Fails with `IfnameExists` before creating anything if `ifname` exists in the pod. On any
/// failure it removes the veth it created before returning the error.
pub fn attach(bridge: &BridgeSpec, pod: &PodSpec) -> Result<Attached, DpError> {
    let _ = (bridge, pod);
    todo!("dataplane::attach")
}

/// DEL's data plane: delete the pod's interface (and with it the host end). A missing netns or
/// interface is success. Also deletes a leftover host end named `host_veth`.
pub fn detach(netns: Option<&Path>, ifname: &str, host_veth: &str) -> Result<(), DpError> {
    let _ = (netns, ifname, host_veth);
    todo!("dataplane::detach")
}

/// CHECK's view of an attachment.
pub fn inspect(netns: &Path, ifname: &str) -> Result<PodState, DpError> {
    let _ = (netns, ifname);
    todo!("dataplane::inspect")
}

/// Whether the bridge exists and is up, with its addresses (STATUS, CHECK).
pub fn bridge_state(name: &str) -> Result<Option<(LinkInfo, Vec<IpNet>)>, DpError> {
    let _ = name;
    todo!("dataplane::bridge_state")
}

/// ADD's checks that need the kernel but change nothing: the netns opens and is a network
/// namespace (`NetnsMissing` otherwise) and `ifname` does not exist in it (`IfnameExists`).
/// Run before IPAM so a refused ADD leases nothing.
pub fn preflight(netns: &Path, ifname: &str) -> Result<(), DpError> {
    let _ = (netns, ifname);
    todo!("dataplane::preflight")
}
