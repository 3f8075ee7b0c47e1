//! What else on the node breaks pod traffic, named with what to do: the board failures that
//! Flannel and k3s users meet again and again, met with an instruction instead of a restart
//! loop. The kernel side reads the facts ([`Foreign`], through [`super::kernel::Kernel`]);
//! this file turns them into the `warning:` lines of `lichen status` and the log, and explains
//! the kernel's refusals of Lichen's own steps ([`explain`]).
//!
//! Design notes:
//! - No VXLAN module: creating `type vxlan` answers EOPNOTSUPP (Ubuntu on Raspberry Pi without
//!   `linux-modules-extra-raspi`; k3s-io/k3s#4234, #7155, flannel-io/flannel#1502).
//! - Same VNI and port as another VXLAN device (a leftover `flannel.1`): the kernel refuses a
//!   second one with EEXIST ("A VXLAN device with the specified VNI already exists",
//!   drivers/net/vxlan `vxlan_config_validate`).
//! - Leftover Calico: its IPAM blocks are /26 routes (`blackhole` for the node's own blocks,
//!   `proto bird` for BGP-learned ones) and routes via `vxlan.calico`, `tunl0` or `cali*`
//!   interfaces; inside the cluster network they win over Lichen's /24 by longest prefix.
//! - iptables-legacy: x_tables and nf_tables hooks both see every packet, so a legacy
//!   `filter FORWARD` policy DROP (Docker sets one: k3s-io/k3s#703, #1597) drops pod traffic
//!   that Lichen's nftables rules accept, and Lichen's nft netlink cannot see it. The chain is
//!   read through the x_tables getsockopt interface ([`crate::nl::xtables`]): Lichen's image
//!   has no `iptables-legacy`.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use lichen_backends::{Op, DEVICE_PREFIX};

pub use crate::nl::xtables::LegacyForward;
use crate::nl::PROTO_KERNEL;

/// The Linux route protocol BIRD (Calico's BGP daemon) marks its routes with.
pub const RTPROT_BIRD: u8 = 12;

/// A VXLAN device that is not Lichen's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignVxlan {
    pub name: String,
    pub vni: u32,
    pub port: u16,
}

/// A route of the main table inside the cluster network that Lichen did not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRoute {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    /// The output interface's name (none for a blackhole).
    pub dev: Option<String>,
    pub protocol: u8,
    pub blackhole: bool,
}

/// What the node holds besides Lichen's objects, as far as it matters to pod traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Foreign {
    pub vxlan: Vec<ForeignVxlan>,
    pub routes: Vec<ForeignRoute>,
    /// The legacy `filter` table's FORWARD chain when the table exists (`Err`: why it could
    /// not be read); `None` when there is none.
    pub legacy_forward: Option<Result<LegacyForward, String>>,
}

/// Whether a route to `dst` lies inside the cluster network: as specific as a network of it or
/// more, so it competes with Lichen's routes (a default route or a covering /8 does not).
pub fn inside(cluster: &[IpNet], dst: &IpNet) -> bool {
    cluster.iter().any(|n| n.contains(dst))
}

/// What to install, or to choose instead, when the kernel has no VXLAN support.
pub fn no_vxlan_module(conf_has_direct_routing: bool) -> String {
    let direct = if conf_has_direct_routing {
        "DirectRouting is on: the device is only needed because a peer is not on this node's LAN."
    } else {
        "Or, when every node shares one LAN, set \"DirectRouting\": true (no VXLAN device while no peer needs it)."
    };
    format!(
        "the kernel has no VXLAN support (creating the VXLAN device answered EOPNOTSUPP: the vxlan module is missing).\n\
         Install the kernel's extra modules and load it: on Ubuntu for Raspberry Pi `apt install linux-modules-extra-raspi`, \
         elsewhere `apt install linux-modules-extra-$(uname -r)`; then `modprobe vxlan` (or reboot).\n\
         Or use \"Backend\": {{\"Type\": \"host-gw\"}} in net-conf.json when every node shares one LAN.\n\
         {direct}"
    )
}

/// Why the kernel refused `op`, with what to do, when Lichen knows; `None` for the rest.
pub fn explain(op: &Op, e: &io::Error, foreign: &Foreign, direct_routing: bool) -> Option<String> {
    let (Op::CreateDevice(d) | Op::ReplaceDevice(d)) = op else {
        return None;
    };
    match e.raw_os_error()? {
        libc::EOPNOTSUPP => Some(no_vxlan_module(direct_routing)),
        libc::EEXIST => {
            let culprit = foreign
                .vxlan
                .iter()
                .find(|f| f.vni == d.vni && f.port == d.port)?;
            Some(format!(
                "cannot create {}: {} already exists with the same VNI {} and port {} ({}).\n\
                 Remove it once nothing uses it: `ip link delete {}`; or give Lichen another \"VNI\" in net-conf.json.",
                d.name,
                culprit.name,
                d.vni,
                d.port,
                owner_of_device(&culprit.name),
                culprit.name
            ))
        }
        _ => None,
    }
}

fn owner_of_device(name: &str) -> &'static str {
    if name.starts_with("flannel.") {
        "a leftover of Flannel, e.g. k3s's built-in flannel: stop it first (k3s --flannel-backend=none)"
    } else if name == "vxlan.calico" {
        "a leftover of Calico: remove calico-node first"
    } else {
        "another overlay on this node"
    }
}

/// Who made a route, when it can be told.
fn owner_of_route(r: &ForeignRoute) -> &'static str {
    let dev = r.dev.as_deref().unwrap_or("");
    if r.blackhole
        || r.protocol == RTPROT_BIRD
        || dev == "vxlan.calico"
        || dev == "tunl0"
        || dev.starts_with("cali")
    {
        "a leftover of Calico"
    } else if dev.starts_with("flannel.") || dev == "cni0" {
        "a leftover of Flannel"
    } else {
        "not Lichen's"
    }
}

/// `ip route del …` for a route as found.
fn delete_command(r: &ForeignRoute) -> String {
    let mut cmd = if r.blackhole {
        format!("ip route del blackhole {}", r.dst)
    } else {
        format!("ip route del {}", r.dst)
    };
    if let Some(gw) = r.gateway {
        cmd.push_str(&format!(" via {gw}"));
    }
    if let Some(dev) = &r.dev {
        cmd.push_str(&format!(" dev {dev}"));
    }
    cmd
}

/// The warnings for what the survey found. `own_subnets`: this node's podCIDRs (their
/// connected route on the bridge is the plugin's).
pub fn warnings(f: &Foreign, cluster: &[IpNet], own_subnets: &[IpNet]) -> Vec<String> {
    let mut out = Vec::new();
    for v in &f.vxlan {
        if v.name.starts_with("flannel.") || v.name == "vxlan.calico" {
            out.push(format!(
                "VXLAN device {} (VNI {}, port {}) is {}.\n\
                 Remove it once nothing uses it: `ip link delete {}`",
                v.name,
                v.vni,
                v.port,
                owner_of_device(&v.name),
                v.name
            ));
        }
    }
    for r in &f.routes {
        let ours = r.protocol == PROTO_KERNEL
            && (own_subnets.iter().any(|s| s.trunc() == r.dst) || device_address(r, own_subnets));
        let Some(net) = cluster.iter().find(|n| n.contains(&r.dst)) else {
            continue;
        };
        if ours {
            continue;
        }
        out.push(format!(
            "route {}{} inside the cluster network {net} is {}: it takes traffic meant for pods.\n\
             Remove it: `{}`",
            if r.blackhole { "(blackhole) " } else { "" },
            r.dst,
            owner_of_route(r),
            delete_command(r)
        ));
    }
    if let Some(legacy) = &f.legacy_forward {
        out.extend(legacy_forward(legacy, cluster));
    }
    out
}

/// Whether `r` is the route the kernel made for the VXLAN device's own address: the network
/// address of one of this node's podCIDRs as a host prefix on Lichen's device. IPv6 gives every
/// address a prefix route, its /128 too (`2001:db8:42:1::/128 dev lichen.1 proto kernel`);
/// IPv4 makes none for a /32.
fn device_address(r: &ForeignRoute, own_subnets: &[IpNet]) -> bool {
    r.dev
        .as_deref()
        .is_some_and(|d| d.starts_with(DEVICE_PREFIX))
        && r.dst.prefix_len() == r.dst.max_prefix_len()
        && own_subnets.iter().any(|s| s.network() == r.dst.addr())
}

/// The warning for a legacy `filter FORWARD` chain that drops forwarded traffic.
fn legacy_forward(chain: &Result<LegacyForward, String>, cluster: &[IpNet]) -> Option<String> {
    let accept: Vec<String> = cluster
        .iter()
        .flat_map(|n| {
            [
                format!("iptables-legacy -I FORWARD -s {n} -j ACCEPT"),
                format!("iptables-legacy -I FORWARD -d {n} -j ACCEPT"),
            ]
        })
        .collect();
    let chain = match chain {
        Err(why) => {
            return Some(format!(
                "an iptables-legacy filter table exists on this node and could not be read ({why}).\n\
                 Check `iptables-legacy -S FORWARD`: a DROP policy or DROP rules there drop pod traffic \
                 that Lichen's nftables rules accept."
            ))
        }
        Ok(c) => c,
    };
    let what = match (chain.policy_drop, chain.drops) {
        (false, 0) => return None,
        (true, 0) => "has the policy DROP".to_owned(),
        (true, n) => format!("has the policy DROP and {n} DROP/REJECT rules"),
        (false, n) => format!("has {n} DROP/REJECT rules"),
    };
    Some(format!(
        "the iptables-legacy filter table's FORWARD chain {what} (Docker sets this): it drops pod traffic \
         between nodes, and Lichen's nftables rules cannot override it.\n\
         Fix: `iptables-legacy -P FORWARD ACCEPT`, or accept the cluster network: `{}`",
        accept.join("; ")
    ))
}

#[cfg(test)]
mod tests;
