//! ADD's specifications of an attachment, from the config and the lease: the bridge and the pod
//! in bridge mode ([`specs`]); the pod alone in routed mode ([`routed_spec`], see
//! `dataplane::attach_routed`): its addresses as host prefixes, and every route (IPAM's, the
//! default or the cluster networks) via the link-local gateway of its family, whatever gateway
//! IPAM names (IPAM's gateway address is on no interface in that mode: it stays reserved,
//! unleased).

use std::net::IpAddr;

use ipnet::IpNet;

use super::ipam::Addresses;
use crate::cni::{Env, Mac, Mode, NetConf, Route};
use crate::dataplane::{self, gateway_for, BridgeSpec, PodSpec};

/// The pod's specification in routed mode.
pub(super) fn routed_spec(
    env: &Env,
    conf: &NetConf,
    addrs: &Addresses,
    mac: Option<Mac>,
) -> PodSpec {
    let routes = pod_routes(conf, addrs, true, |r| Some(gateway_for(r.dst.addr())));
    pod_spec(env, conf, addrs, mac, (Mode::Routed, routes))
}

/// The bridge and pod specifications for an attachment.
pub(super) fn specs(
    env: &Env,
    conf: &NetConf,
    addrs: &Addresses,
    mac: Option<Mac>,
) -> (BridgeSpec, PodSpec) {
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
    let routes = pod_routes(conf, addrs, false, |r| {
        r.gw.or_else(|| gateway_of(r.dst.addr().is_ipv4()))
    });
    let pod = pod_spec(env, conf, addrs, mac, (Mode::Bridge, routes));
    (bridge, pod)
}

/// The pod's routes: IPAM's, then a default route per family with a gateway (every family when
/// `routed`) (or, without `isDefaultGateway`, the cluster networks); each via `via(route)`.
fn pod_routes(
    conf: &NetConf,
    addrs: &Addresses,
    routed: bool,
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

/// The pod's side of an attachment in `mode`, with its routes.
fn pod_spec(
    env: &Env,
    conf: &NetConf,
    addrs: &Addresses,
    mac: Option<Mac>,
    (mode, routes): (Mode, Vec<(IpNet, Option<IpAddr>)>),
) -> PodSpec {
    let routed = mode == Mode::Routed;
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
