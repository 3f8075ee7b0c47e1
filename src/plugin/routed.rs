//! ADD's specification in routed mode (`"mode": "routed"`, see `dataplane::attach_routed`): no
//! bridge; the pod's addresses as host prefixes, and every route (IPAM's, the default or the
//! cluster networks) via the link-local gateway of its family, whatever gateway IPAM names
//! (IPAM's gateway address is on no interface in this mode: it stays reserved, unleased).

use super::add::{pod_routes, pod_spec};
use super::ipam::Addresses;
use crate::cni::{Env, Mac, NetConf};
use crate::dataplane::{gateway_for, PodSpec};

pub fn spec(env: &Env, conf: &NetConf, addrs: &Addresses, mac: Option<Mac>) -> PodSpec {
    let routes = pod_routes(conf, addrs, |r| Some(gateway_for(r.dst.addr())));
    pod_spec(env, conf, addrs, mac, routes)
}
