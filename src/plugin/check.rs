//! CHECK: compare the pod's interface, addresses and routes, the host side (bridge port, or in
//! routed mode proxy ARP, the node's pod routes, the host end's IPv6 gateway address and the
//! pod's gateway neighbour entries) and the lease with prevResult, and say everything that
//! differs in one error. A config without `mode` is checked the way the pod was attached:
//! a host end with a master was bridged, one without was routed.

use std::net::IpAddr;

use super::add::dp_err;
use super::ipam::Allocator;
use super::{Output, Request};
use ipnet::IpNet;

use crate::cni::{CniError, CniResult, Code, Env, Mode, NetConf};
use crate::dataplane::{self, PodState};

pub fn run(req: &Request) -> Result<Output, CniError> {
    let (env, conf) = (req.env, req.conf);
    if !conf.cni_version.has_check() {
        return Err(CniError::new(
            Code::IncompatibleVersion,
            format!(
                "CHECK needs cniVersion 0.4.0 or later; this config has {}",
                conf.cni_version
            ),
        ));
    }
    let prev = conf.prev_result.as_ref().ok_or_else(|| {
        CniError::new(
            Code::InvalidConfig,
            "CHECK needs prevResult: the runtime sends the cached ADD result",
        )
    })?;
    let netns = env.netns.as_deref().expect("validated for CHECK");
    let state = dataplane::inspect(netns, env.ifname()).map_err(dp_err)?;
    let mut diffs = compare(env, conf, prev, &state);
    let ips: Vec<IpAddr> = prev.ips.iter().map(|ip| ip.address.addr()).collect();
    diffs.extend(Allocator::of(conf).check(req, &ips)?);
    if diffs.is_empty() {
        Ok(None)
    } else {
        Err(CniError::new(
            Code::CheckFailed,
            format!(
                "attachment {}/{} differs from prevResult: {}",
                env.container_id(),
                env.ifname(),
                diffs.join("; ")
            ),
        ))
    }
}

/// Every difference between prevResult and the kernel, as readable phrases.
pub fn compare(env: &Env, conf: &NetConf, prev: &CniResult, state: &PodState) -> Vec<String> {
    let ifname = env.ifname();
    let mut diffs = Vec::new();
    let pod_index = prev
        .interfaces
        .iter()
        .position(|i| i.name == ifname && !i.sandbox.is_empty());
    match pod_index.map(|i| &prev.interfaces[i]) {
        None => diffs.push(format!(
            "prevResult has no interface {ifname:?} with a sandbox"
        )),
        Some(i) if !i.mac.is_empty() && !i.mac.eq_ignore_ascii_case(&state.link.mac) => {
            diffs.push(format!(
                "{ifname} has MAC {} but prevResult says {}",
                state.link.mac, i.mac
            ))
        }
        Some(_) => {}
    }
    for ip in &prev.ips {
        if ip.interface.is_some() && ip.interface != pod_index {
            continue;
        }
        if !state.addresses.contains(&ip.address) {
            diffs.push(format!("address {} is missing on {ifname}", ip.address));
        }
    }
    for r in &prev.routes {
        if !state
            .routes
            .iter()
            .any(|(d, g)| *d == r.dst && (r.gw.is_none() || *g == r.gw))
        {
            let via = r.gw.map(|g| format!(" via {g}")).unwrap_or_default();
            diffs.push(format!("route {}{via} is missing in the pod", r.dst));
        }
    }
    let host_veth = dataplane::host_veth_name(&conf.name, env.container_id(), ifname);
    let mode = conf.mode.unwrap_or(match state.host_master {
        Some(_) => Mode::Bridge,
        None => Mode::Routed,
    });
    match (&state.host_veth, &state.host_master, mode) {
        (None, _, _) => diffs.push(format!("the host end {host_veth} of {ifname} is missing")),
        (Some(_), m, Mode::Bridge) if m.as_deref() != Some(conf.bridge.as_str()) => {
            diffs.push(format!(
                "the host end of {ifname} is not attached to bridge {}",
                conf.bridge
            ))
        }
        (Some(_), _, Mode::Routed) => routed(prev, state, &mut diffs),
        _ => {}
    }
    diffs
}

/// Routed mode's host side: no bridge, proxy ARP for the IPv4 gateway, fe80::1/64 on the host
/// end for the IPv6 one, a pod route on the node for each address; and in the pod, a
/// permanent neighbour entry for each family's gateway with the host end's MAC.
fn routed(prev: &CniResult, state: &PodState, diffs: &mut Vec<String>) {
    let host = state.host_veth.as_deref().unwrap_or_default();
    if let Some(m) = &state.host_master {
        diffs.push(format!("the host end {host} is a port of {m}, not routed"));
    }
    let v4 = prev.ips.iter().any(|ip| ip.address.addr().is_ipv4());
    if v4 && !state.host_proxy_arp {
        diffs.push(format!("proxy_arp is off on the host end {host}"));
    }
    for ip in &prev.ips {
        let a = ip.address.addr();
        let dst = IpNet::new(a, ip.address.max_prefix_len()).expect("a host prefix");
        if !state.host_routes.contains(&dst) {
            diffs.push(format!("the node's route {dst} dev {host} is missing"));
        }
    }
    let v6 = prev.ips.iter().any(|ip| ip.address.addr().is_ipv6());
    let gw6 = IpNet::new(IpAddr::V6(dataplane::GATEWAY_V6), 64).expect("a valid prefix");
    if v6 && !state.host_addresses.contains(&gw6) {
        diffs.push(format!(
            "the gateway address {gw6} is missing on the host end {host}"
        ));
    }
    for gw in gateways(prev) {
        if let Some(d) = gateway_neighbour(state, gw) {
            diffs.push(d);
        }
    }
}

/// The link-local gateways of the families in prevResult, IPv4's first.
fn gateways(prev: &CniResult) -> Vec<IpAddr> {
    let mut gws: Vec<IpAddr> = prev
        .ips
        .iter()
        .map(|ip| dataplane::gateway_for(ip.address.addr()))
        .collect();
    gws.sort();
    gws.dedup();
    gws
}

/// What is wrong with the pod's neighbour entry for its gateway `gw`, if anything.
fn gateway_neighbour(state: &PodState, gw: IpAddr) -> Option<String> {
    let hex = |m: &[u8]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let want = hex(&dataplane::HOST_MAC);
    let Some(n) = state.gateway_neighbours.iter().find(|n| n.ip == gw) else {
        return Some(format!(
            "the pod's neighbour entry for its gateway {gw} (permanent, {want}) is missing"
        ));
    };
    if n.mac != dataplane::HOST_MAC {
        Some(format!(
            "the pod's neighbour entry for its gateway {gw} has MAC {}, not {want}",
            hex(&n.mac)
        ))
    } else if !n.permanent {
        Some(format!(
            "the pod's neighbour entry for its gateway {gw} is not permanent"
        ))
    } else {
        None
    }
}
