//! ADD: lease addresses, attach the pod to the node's bridge, answer the result.
//!
//! Order matters for "a failed ADD changes nothing": everything that can be refused without side
//! effects (config, env, a requested MAC, netns, an existing ifname) is checked first; after IPAM has leased, any
//! failure gives the lease back before answering.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ipam::{Addresses, Allocator};
use super::{Output, Request};
use crate::cni::{mac, CniError, CniResult, Code, Env, Interface, Mac, NetConf, Route};
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
    let (bridge, pod) = specs(env, conf, &addrs, mac);
    match dataplane::attach_checked(&bridge, &pod, checked) {
        Ok(att) => {
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
    let mtu = conf.mtu.or(addrs.mtu);
    let ips = &addrs.result.ips;
    let bridge = BridgeSpec {
        name: conf.bridge.clone(),
        mtu,
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
    let mut routes: Vec<(IpNet, Option<IpAddr>)> = Vec::new();
    let mut push = |dst: IpNet, gw: Option<IpAddr>| {
        if !routes.iter().any(|(d, _)| *d == dst) {
            routes.push((dst, gw));
        }
    };
    for r in &addrs.result.routes {
        push(r.dst, r.gw.or_else(|| gateway_of(r.dst.addr().is_ipv4())));
    }
    if conf.is_default_gateway {
        for ip in ips {
            if let Some(gw) = ip.gateway {
                let any: IpNet = if gw.is_ipv4() {
                    "0.0.0.0/0".parse().unwrap()
                } else {
                    "::/0".parse().unwrap()
                };
                push(any, Some(gw));
            }
        }
    } else {
        // Without a default route the pod still needs the cluster network.
        for net in &addrs.cluster {
            push(*net, gateway_of(net.addr().is_ipv4()));
        }
    }
    let pod = PodSpec {
        netns: env.netns.clone().expect("validated for ADD"),
        ifname: env.ifname().to_owned(),
        mac: mac.map(|m| m.0),
        host_veth: dataplane::host_veth_name(&conf.name, env.container_id(), env.ifname()),
        mtu,
        hairpin: conf.hairpin_mode,
        addresses: ips.iter().map(|ip| ip.address).collect(),
        routes,
    };
    (bridge, pod)
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
    r.interfaces = vec![
        iface(&att.bridge, ""),
        iface(&att.host_veth, ""),
        iface(&att.pod, &netns),
    ];
    for ip in &mut r.ips {
        ip.interface = Some(2);
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
