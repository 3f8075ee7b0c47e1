//! Lichen's backends as pure functions: (this node, its peers, the backend config) → the kernel
//! objects that should exist (routes, neighbours, FDB entries, the VXLAN or WireGuard device,
//! WireGuard's peers), plus a diff (`plan`) between that desired state and what the kernel has.
//! No netlink here: the agent reads the kernel, calls these, and applies the plan.
//!
//! ```text
//! let want = desired(&local, &underlay, &peers, &conf, &cluster);   // + want.peers: statuses
//! let ops  = plan(&want, &actual_read_from_the_kernel);             // apply in order
//! let mtu  = pod_mtu(&conf, &underlay);                             // for the subnet file
//! ```

pub mod conf;
pub mod desired;
mod hostgw;
pub mod mac;
pub mod model;
pub mod op;
mod peers;
pub mod plan;
mod plan_device;
pub mod state;
/// The kernel model for tests (feature `fake`, which only dev-dependencies enable).
#[cfg(any(test, feature = "fake"))]
pub mod testing;
mod vxlan;
mod wireguard;

pub use conf::{
    pod_mtu, BackendConf, ConfError, VxlanConf, WireguardConf, DEFAULT_VNI, DEFAULT_VXLAN_PORT,
    DEFAULT_WG_PORT, DEVICE_PREFIX, WG_DEVICE, WG_OVERHEAD_V4, WG_OVERHEAD_V6,
};
pub use desired::desired;
pub use mac::{derived_vtep_mac, fnv1a, vtep_mac};
pub use model::{mac_to_string, parse_mac, LocalUnderlay, Mac, NodeInfo};
pub use op::Op;
pub use plan::plan;
pub use state::{
    Actual, ActualDevice, ActualLink, ActualNeighbour, ActualRoute, Desired, Dev, Fdb, Neighbour,
    PeerState, PeerStatus, RouteEntry, Via, VxlanDevice, WgDevice, WgPeer, RT_PROTO_LICHEN,
};

#[cfg(test)]
mod test_fixtures;
#[cfg(test)]
mod tests_desired_hostgw;
#[cfg(test)]
mod tests_desired_vxlan;
#[cfg(test)]
mod tests_desired_wireguard;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_mac;
#[cfg(test)]
mod tests_plan;
#[cfg(test)]
mod tests_plan_wireguard;
