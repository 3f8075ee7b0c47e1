//! ADD: lease addresses, attach the pod to the node's bridge (or, in routed mode, route it:
//! `routed.rs`), answer the result.
//!
//! Order matters for "a failed ADD changes nothing": everything that can be refused without side
//! effects (config, env, a requested MAC, netns, an existing ifname) is checked first; after IPAM has leased, any
//! failure gives the lease back before answering.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ipam::{Addresses, Allocator};
use super::{routed, Output, Request};
use crate::cni::{mac, CniError, CniResult, Code, Env, Interface, Mac, Mode, NetConf, Route};
use crate::dataplane::{self, Attached, BridgeSpec, DpError, PodSpec};

/// preflight → allocate → attach → result; the one rollback path: a failed attach (which
/// undoes its own kernel changes) gives the lease back.
pub fn run(req: &Request) -> Result<Output, CniError> {
    let (env, conf) = (req.env, req.conf);
    let t = std::time::Instant::now();
    let mac = mac::requested(&env.args, conf)?;
    let netns = env.netns.as_deref().expect("validated for ADD");
    let checked = dataplane::preflight(netns, env.ifname()).map_err(dp_err)?;
    log::debug!("ADD: preflight done at {:?}", t.elapsed());

    let ipam = Allocator::of(conf);
    let addrs = ipam.add(req)?;
    log::debug!("ADD: leased at {:?}", t.elapsed());
    let attached = match conf.mode {
        Mode::Bridge => {
            let (bridge, pod) = specs(env, conf, &addrs, mac);
            dataplane::attach_checked(&bridge, &pod, checked).map(|a| (pod, a))
        }
        Mode::Routed => {
            let pod = routed::spec(env, conf, &addrs, mac);
            dataplane::attach_routed(&pod, checked).map(|a| (pod, a))
        }
    };
    match attached {
        Ok((pod, att)) => {
            log::debug!("ADD: attached at {:?}", t.elapsed());
            Ok(Some(
                result(env, &addrs, &pod, &att).to_json(conf.cni_version),
            ))
        }
        Err(e) => {
            if let Err(r) = ipam.del(req) {
                log::error!("rolling back the lease after a failed ADD: {r}");
            }
            Err(dp_err(e))
        }
    }
}

/// The bridge and pod specifications for an attachment.
fn specs(env: &Env, conf: &NetConf, addrs: &Addresses, mac: Option<Mac>) -> (BridgeSpec, PodSpec) {
    let ips = &addrs.result.ips;
    let bridge = BridgeSpec {
        name: conf.bridge.clone(),
        mtu: conf.mtu.or(addrs.mtu),
        addresses: ips
            .iter()
            .filter_map(|ip| ip.gateway.map(|gw| with_prefix(gw, ip.address)))
            .collect(),
    };
    let gateway_of = |family_v4: bool| {
        ips.iter()
            .filter_map(|ip| ip.gateway)
            .find(|gw| gw.is_ipv4() == family_v4)
    };
    let routes = pod_routes(conf, addrs, |r| {
        r.gw.or_else(|| gateway_of(r.dst.addr().is_ipv4()))
    });
    let pod = pod_spec(env, conf, addrs, mac, routes);
    (bridge, pod)
}

/// The pod's routes: IPAM's, then a default route per family with a gateway (every family in
/// routed mode) (or, without
/// `isDefaultGateway`, the cluster networks); each via `via(route)`.
pub(super) fn pod_routes(
    conf: &NetConf,
    addrs: &Addresses,
    via: impl Fn(&Route) -> Option<IpAddr>,
) -> Vec<(IpNet, Option<IpAddr>)> {
    let ips = &addrs.result.ips;
    let mut routes: Vec<(IpNet, Option<IpAddr>)> = Vec::new();
    let mut push = |dst: IpNet, gw: Option<IpAddr>| {
        if !routes.iter().any(|(d, _)| *d == dst) {
            routes.push((dst, gw));
        }
    };
    for r in &addrs.result.routes {
        push(r.dst, via(r));
    }
    if conf.is_default_gateway {
        let routed = conf.mode == Mode::Routed;
        for ip in ips.iter().filter(|ip| routed || ip.gateway.is_some()) {
            let any: IpNet = if ip.address.addr().is_ipv4() {
                "0.0.0.0/0".parse().unwrap()
            } else {
                "::/0".parse().unwrap()
            };
            push(any, via(&Route::new(any, None)));
        }
    } else {
        // Without a default route the pod still needs the cluster network.
        for net in &addrs.cluster {
            push(*net, via(&Route::new(*net, None)));
        }
    }
    routes
}

/// The pod's side of an attachment, in either mode.
pub(super) fn pod_spec(
    env: &Env,
    conf: &NetConf,
    addrs: &Addresses,
    mac: Option<Mac>,
    routes: Vec<(IpNet, Option<IpAddr>)>,
) -> PodSpec {
    let routed = conf.mode == Mode::Routed;
    let host = |a: IpNet| IpNet::new(a.addr(), a.max_prefix_len()).expect("a host prefix");
    PodSpec {
        netns: env.netns.clone().expect("validated for ADD"),
        ifname: env.ifname().to_owned(),
        mac: mac.map(|m| m.0),
        host_veth: dataplane::host_veth_name(&conf.name, env.container_id(), env.ifname()),
        mtu: conf.mtu.or(addrs.mtu),
        hairpin: conf.hairpin_mode && !routed,
        addresses: addrs
            .result
            .ips
            .iter()
            .map(|ip| if routed { host(ip.address) } else { ip.address })
            .collect(),
        routes,
        onlink: routed,
        subnets: match routed {
            true => addrs
                .result
                .ips
                .iter()
                .map(|ip| ip.address.trunc())
                .collect(),
            false => Vec::new(),
        },
    }
}

fn with_prefix(addr: IpAddr, of: IpNet) -> IpNet {
    IpNet::new(addr, of.prefix_len()).expect("prefix length of a valid network")
}

fn result(env: &Env, addrs: &Addresses, pod: &PodSpec, att: &Attached) -> CniResult {
    let iface = |l: &dataplane::LinkInfo, sandbox: &str| Interface {
        name: l.name.clone(),
        mac: l.mac.clone(),
        sandbox: sandbox.to_owned(),
        mtu: Some(l.mtu),
    };
    let netns = env
        .netns
        .as_deref()
        .expect("validated")
        .display()
        .to_string();
    let mut r = addrs.result.clone();
    r.interfaces = att.bridge.iter().map(|b| iface(b, "")).collect();
    r.interfaces.push(iface(&att.host_veth, ""));
    r.interfaces.push(iface(&att.pod, &netns));
    let pod_index = r.interfaces.len() - 1;
    for (ip, &address) in r.ips.iter_mut().zip(&pod.addresses) {
        ip.interface = Some(pod_index);
        // Routed mode: the pod's /32 and its link-local gateway.
        ip.address = address;
        if att.bridge.is_none() {
            ip.gateway = Some(dataplane::gateway_for(address.addr()));
        }
    }
    r.routes = pod.routes.iter().map(|(d, g)| Route::new(*d, *g)).collect();
    r
}

/// Data-plane errors as CNI errors.
pub fn dp_err(e: DpError) -> CniError {
    let code = match &e {
        DpError::NetnsMissing(..) => Code::InvalidEnv,
        DpError::IfnameExists(_) => Code::InterfaceExists,
        DpError::NoSuchInterface(_) => Code::CheckFailed,
        DpError::NotABridge(_) => Code::InvalidConfig,
        DpError::Kernel(..) => Code::Netlink,
    };
    let msg = match &e {
        DpError::NetnsMissing(..) => format!("CNI_NETNS: {e}"),
        DpError::IfnameExists(_) => {
            format!("CNI_IFNAME: {e}; pick another CNI_IFNAME or DEL the old attachment")
        }
        DpError::NotABridge(_) => format!("bridge: {e}; set \"bridge\" to another name"),
        _ => e.to_string(),
    };
    CniError::new(code, msg)
}
