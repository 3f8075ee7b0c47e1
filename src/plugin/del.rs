//! DEL: idempotent. A missing netns, interface or lease is success; the lease is released even
//! when the netns is gone. Both halves always run; the first error is reported after both.

use super::add::dp_err;
use super::ipam::Allocator;
use super::Output;
use crate::cni::{CniError, Env, NetConf};
use crate::dataplane;

pub fn run(env: &Env, conf: &NetConf, stdin: &[u8]) -> Result<Output, CniError> {
    let host_veth = dataplane::host_veth_name(env.container_id(), env.ifname());
    let link = dataplane::detach(env.netns.as_deref(), env.ifname(), &host_veth).map_err(dp_err);
    if let Err(e) = &link {
        log::error!("DEL {}/{}: {e}", env.container_id(), env.ifname());
    }
    let lease = release(env, conf, stdin);
    link.and(lease).map(|_| None)
}

fn release(env: &Env, conf: &NetConf, stdin: &[u8]) -> Result<(), CniError> {
    Allocator::of(conf).del(env, conf, stdin)
}
