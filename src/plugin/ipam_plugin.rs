//! `lichen-ipam`: the built-in IPAM as a standalone plugin, a drop-in for host-local. Its ADD
//! answers an abbreviated result (no interfaces); DEL releases; CHECK verifies the lease; GC and
//! STATUS as for the main plugin.

use std::net::IpAddr;

use super::ipam::Allocator;
use super::{Output, Request};
use crate::cni::{CniError, Code, Command};

pub fn run(req: &Request) -> Result<Output, CniError> {
    // Whatever ipam.type says, this binary is the IPAM plugin: never delegate to ourselves.
    let builtin = Allocator::Builtin;
    match req.env.command {
        Command::Add => {
            let addrs = builtin.add(req)?;
            Ok(Some(addrs.result.to_json(req.conf.cni_version)))
        }
        Command::Del => builtin.del(req).map(|_| None),
        Command::Check => {
            let prev = req
                .conf
                .prev_result
                .as_ref()
                .ok_or_else(|| CniError::new(Code::InvalidConfig, "CHECK needs prevResult"))?;
            let ips: Vec<IpAddr> = prev.ips.iter().map(|i| i.address.addr()).collect();
            let diffs = builtin.check(req, &ips)?;
            if diffs.is_empty() {
                Ok(None)
            } else {
                Err(CniError::new(Code::CheckFailed, diffs.join("; ")))
            }
        }
        Command::Gc => builtin.gc(req).map(|_| None),
        Command::Status => builtin.status(req).map(|_| None),
        Command::Version => unreachable!("handled by the caller"),
    }
}
