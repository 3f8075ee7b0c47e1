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
use crate::dataplane::{self, HostEnd, PodState};
use crate::nl;

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
    let host = state.host.as_ref();
    let mode = conf
        .mode
        .unwrap_or(match host.and_then(|h| h.master.as_ref()) {
            Some(_) => Mode::Bridge,
            None => Mode::Routed,
        });
    match (host, mode) {
        (None, _) => diffs.push(format!("the host end {host_veth} of {ifname} is missing")),
        (Some(h), Mode::Bridge) if h.master.as_deref() != Some(conf.bridge.as_str()) => {
            diffs.push(format!(
                "the host end of {ifname} is not attached to bridge {}",
                conf.bridge
            ))
        }
        (Some(h), Mode::Routed) => routed(prev, h, state, &mut diffs),
        _ => {}
    }
    diffs
}

/// Routed mode's host side: no bridge, proxy ARP for the IPv4 gateway, fe80::1/64 on the host
/// end for the IPv6 one, a pod route on the node for each address; and in the pod, a
/// permanent neighbour entry for each family's gateway with the host end's MAC.
fn routed(prev: &CniResult, end: &HostEnd, state: &PodState, diffs: &mut Vec<String>) {
    let host = &end.name;
    if let Some(m) = &end.master {
        diffs.push(format!("the host end {host} is a port of {m}, not routed"));
    }
    let v4 = prev.ips.iter().any(|ip| ip.address.addr().is_ipv4());
    if v4 && !end.proxy_arp {
        diffs.push(format!("proxy_arp is off on the host end {host}"));
    }
    for ip in &prev.ips {
        let a = ip.address.addr();
        let dst = IpNet::new(a, ip.address.max_prefix_len()).expect("a host prefix");
        if !end.routes.contains(&dst) {
            diffs.push(format!("the node's route {dst} dev {host} is missing"));
        }
    }
    let v6 = prev.ips.iter().any(|ip| ip.address.addr().is_ipv6());
    let gw6 = IpNet::new(IpAddr::V6(dataplane::GATEWAY_V6), 64).expect("a valid prefix");
    if v6 && !end.addresses.contains(&gw6) {
        diffs.push(format!(
            "the gateway address {gw6} is missing on the host end {host}"
        ));
    }
    for gw in dataplane::gateways(prev.ips.iter().map(|ip| ip.address.addr())) {
        if let Some(d) = gateway_neighbour(state, gw) {
            diffs.push(d);
        }
    }
}

/// What is wrong with the pod's neighbour entry for its gateway `gw`, if anything.
fn gateway_neighbour(state: &PodState, gw: IpAddr) -> Option<String> {
    let want = nl::mac_string(&dataplane::HOST_MAC);
    let Some(n) = state.gateway_neighbours.iter().find(|n| n.ip == gw) else {
        return Some(format!(
            "the pod's neighbour entry for its gateway {gw} (permanent, {want}) is missing"
        ));
    };
    if n.mac != dataplane::HOST_MAC {
        Some(format!(
            "the pod's neighbour entry for its gateway {gw} has MAC {}, not {want}",
            nl::mac_string(&n.mac)
        ))
    } else if !n.permanent {
        Some(format!(
            "the pod's neighbour entry for its gateway {gw} is not permanent"
        ))
    } else {
        None
    }
}
