//! DEL: idempotent. A missing netns, interface or lease is success; the lease is released even
//! when the netns is gone. Both halves always run; the first error is reported after both.

use super::add::dp_err;
use super::ipam::Allocator;
use super::{Output, Request};
use crate::cni::CniError;
use crate::dataplane;

pub fn run(req: &Request) -> Result<Output, CniError> {
    let env = req.env;
    let host_veth = dataplane::host_veth_name(&req.conf.name, env.container_id(), env.ifname());
    let link = dataplane::detach(env.netns.as_deref(), env.ifname(), &host_veth).map_err(dp_err);
    if let Err(e) = &link {
        log::error!("DEL {}/{}: {e}", env.container_id(), env.ifname());
    }
    let lease = Allocator::of(req.conf).del(req);
    link.and(lease).map(|_| None)
}
