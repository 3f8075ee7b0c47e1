//! CHECK: compare the pod's interface, addresses and routes, the host side and the lease with
//! prevResult, and say everything that differs in one error.

use std::net::IpAddr;

use super::add::dp_err;
use super::ipam::Allocator;
use super::{Output, Request};
use crate::cni::{CniError, CniResult, Code, Env, NetConf};
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
    match (&state.host_veth, &state.host_master) {
        (None, _) => diffs.push(format!("the host end {host_veth} of {ifname} is missing")),
        (Some(_), m) if m.as_deref() != Some(conf.bridge.as_str()) => diffs.push(format!(
            "the host end of {ifname} is not attached to bridge {}",
            conf.bridge
        )),
        _ => {}
    }
    diffs
}
