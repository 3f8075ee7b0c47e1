//! `lichen` invoked as `loopback`: the reference loopback plugin's behaviour
//! (containernetworking/plugins `plugins/main/loopback/loopback.go`, with the CNI library's
//! `skel` around it), so a node whose runtime runs `loopback` for every sandbox (containerd)
//! needs no other plugin binary.
//!
//! - ADD brings `lo` up in CNI_NETNS (CNI_IFNAME is ignored) and answers prevResult unchanged
//!   when there is one, else `lo` (MAC 00:00:00:00:00:00, the sandbox) with the first IPv4 and
//!   the first IPv6 address of `lo`; a non-loopback address on `lo` is an error.
//! - DEL brings `lo` down; no CNI_NETNS, or a namespace that is gone, is success.
//! - CHECK (0.4.0 on) fails unless `lo` is up.
//! - GC and STATUS (1.1.0 on) do nothing and succeed, as skel does for a plugin without them.

use std::net::IpAddr;

use super::add::dp_err;
use super::Output;
use crate::cni::{CniError, CniResult, Code, Command, Env, Interface, IpConfig, NetConf};
use crate::dataplane;

/// The name the installer links to `lichen` for runtimes that run `loopback`.
pub const LOOPBACK_NAME: &str = "loopback";

pub fn run(env: &Env, conf: &NetConf) -> Result<Output, CniError> {
    let v = conf.cni_version;
    let refuse = |since: &str| {
        CniError::new(
            Code::IncompatibleVersion,
            format!(
                "config version {v} does not allow {}: it needs cniVersion {since} or later",
                env.command.as_str()
            ),
        )
    };
    match env.command {
        Command::Add => add(env, conf),
        Command::Del => del(env),
        Command::Check if v.has_check() => check(env),
        Command::Check => Err(refuse("0.4.0")),
        Command::Gc | Command::Status if v.has_gc_status() => Ok(None),
        Command::Gc | Command::Status => Err(refuse("1.1.0")),
        Command::Version => unreachable!("answered before the config is read"),
    }
}

fn add(env: &Env, conf: &NetConf) -> Result<Output, CniError> {
    let netns = env.netns.as_deref().expect("validated for ADD");
    let addrs = dataplane::loopback_up(netns).map_err(dp_err)?;
    if let Some(a) = addrs.iter().find(|a| !a.addr().is_loopback()) {
        return Err(CniError::new(
            Code::Internal,
            format!(
                "loopback interface found with non-loopback address {}",
                a.addr()
            ),
        ));
    }
    if let Some(prev) = &conf.prev_result {
        return Ok(Some(prev.to_json(conf.cni_version)));
    }
    let first = |v4: bool| addrs.iter().find(|a| a.addr().is_ipv4() == v4);
    let result = CniResult {
        interfaces: vec![Interface {
            name: "lo".into(),
            mac: "00:00:00:00:00:00".into(),
            sandbox: netns.display().to_string(),
            mtu: None,
        }],
        ips: [first(true), first(false)]
            .into_iter()
            .flatten()
            .map(|a| IpConfig {
                address: *a,
                gateway: None::<IpAddr>,
                interface: Some(0),
            })
            .collect(),
        ..CniResult::default()
    };
    Ok(Some(result.to_json(conf.cni_version)))
}

fn del(env: &Env) -> Result<Output, CniError> {
    match env.netns.as_deref() {
        None => Ok(None),
        Some(netns) => dataplane::loopback_down(netns)
            .map(|_| None)
            .map_err(dp_err),
    }
}

fn check(env: &Env) -> Result<Output, CniError> {
    let netns = env.netns.as_deref().expect("validated for CHECK");
    if dataplane::loopback_is_up(netns).map_err(dp_err)? {
        Ok(None)
    } else {
        Err(CniError::new(
            Code::CheckFailed,
            "loopback interface is down",
        ))
    }
}
