//! Reading what the node holds besides Lichen's objects (see [`crate::agent::survey`]).

use std::io;
use std::process::Command;

use ipnet::IpNet;
use lichen_backends::{DEVICE_PREFIX, RT_PROTO_LICHEN};

use crate::agent::survey::{self, Foreign, ForeignRoute, ForeignVxlan};
use crate::nl::{LinkId, Nl, TABLE_MAIN};

/// The legacy x_tables of the calling thread's namespace (`/proc/net` is the process's).
const IP_TABLES_NAMES: &str = "/proc/thread-self/net/ip_tables_names";

pub(super) fn foreign(nl: &mut Nl, cluster: &[IpNet]) -> io::Result<Foreign> {
    let vxlan = nl
        .vxlan_links()?
        .into_iter()
        .filter(|(l, _)| !l.name.starts_with(DEVICE_PREFIX))
        .map(|(l, v)| ForeignVxlan {
            name: l.name,
            vni: v.vni,
            port: v.port,
        })
        .collect();
    let inside = |dst: &IpNet| survey::inside(cluster, dst);
    let mut routes = Vec::new();
    for r in nl.routes(TABLE_MAIN, None)? {
        if r.protocol == RT_PROTO_LICHEN || !inside(&r.dst) {
            continue;
        }
        let dev = match r.oif {
            Some(i) => nl.link(LinkId::Index(i))?.map(|l| l.name),
            None => None,
        };
        routes.push(ForeignRoute {
            dst: r.dst,
            gateway: r.gateway,
            dev,
            protocol: r.protocol,
            blackhole: false,
        });
    }
    for dst in nl.blackholes(TABLE_MAIN)? {
        if inside(&dst) {
            routes.push(ForeignRoute {
                dst,
                gateway: None,
                dev: None,
                protocol: 0,
                blackhole: true,
            });
        }
    }
    Ok(Foreign {
        vxlan,
        routes,
        legacy_forward: legacy_forward(),
    })
}

/// `iptables-legacy -S FORWARD`, only when a legacy `filter` table already exists (listing
/// it otherwise would create it).
fn legacy_forward() -> Option<Result<String, String>> {
    let names = std::fs::read_to_string(IP_TABLES_NAMES).ok()?;
    if !names.lines().any(|l| l.trim() == "filter") {
        return None;
    }
    Some(
        match Command::new("iptables-legacy")
            .args(["-w", "-S", "FORWARD"])
            .output()
        {
            Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
            Ok(out) => Err(format!(
                "iptables-legacy -S FORWARD: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("no iptables-legacy to run: {e}")),
        },
    )
}
