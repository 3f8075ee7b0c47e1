//! ADD: lease addresses, attach the pod to the node's bridge (or, in routed mode, route it),
//! answer the result. What to attach is worked out in `spec.rs`; without `mode` in the config
//! the node decides (`dataplane::node_mode`: routed, unless the bridge still has ports).
//!
//! Order matters for "a failed ADD changes nothing": everything that can be refused without side
//! effects (config, env, a requested MAC, netns, an existing ifname) is checked first; after IPAM has leased, any
//! failure gives the lease back before answering.

use super::ipam::{Addresses, Allocator};
use super::spec::{routed_spec, specs};
use super::{Output, Request};
use crate::cni::{mac, CniError, CniResult, Code, Env, Interface, Mode, Route};
use crate::dataplane::{self, Attached, DpError, PodSpec};

/// preflight → allocate → attach → result; the one rollback path: a failed attach (which
/// undoes its own kernel changes) gives the lease back.
pub fn run(req: &Request) -> Result<Output, CniError> {
    let (env, conf) = (req.env, req.conf);
    let t = std::time::Instant::now();
    let mac = mac::requested(&env.args, conf)?;
    let netns = env.netns.as_deref().expect("validated for ADD");
    let checked = dataplane::preflight(netns, env.ifname()).map_err(dp_err)?;
    // Without `mode` the node decides (routed unless its bridge has ports): still no side
    // effects, so before IPAM.
    let mode = match conf.mode {
        Some(m) => m,
        None => dataplane::node_mode(&conf.bridge).map_err(dp_err)?,
    };
    log::debug!(
        "ADD: preflight done at {:?} ({})",
        t.elapsed(),
        mode.as_str()
    );

    let ipam = Allocator::of(conf);
    let addrs = ipam.add(req)?;
    log::debug!("ADD: leased at {:?}", t.elapsed());
    let attached = match mode {
        Mode::Bridge => {
            let (bridge, pod) = specs(env, conf, &addrs, mac);
            dataplane::attach_checked(&bridge, &pod, checked).map(|a| (pod, a))
        }
        Mode::Routed => {
            let pod = routed_spec(env, conf, &addrs, mac);
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
        DpError::IfnameExists(_) | DpError::HostEndTaken(..) => Code::InterfaceExists,
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
        DpError::HostEndTaken(..) => format!("{e}; rename or remove that link"),
        _ => e.to_string(),
    };
    CniError::new(code, msg)
}
