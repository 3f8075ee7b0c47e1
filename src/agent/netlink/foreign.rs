//! Reading what the node holds besides Lichen's objects (see [`crate::agent::survey`]).

use std::io;

use ipnet::IpNet;
use lichen_backends::{DEVICE_PREFIX, RT_PROTO_LICHEN};

use crate::agent::survey::{self, Foreign, ForeignRoute, ForeignVxlan};
use crate::dataplane::RT_PROTO_POD;
use crate::nl::{LinkId, Nl, TABLE_MAIN};

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
        // The plugin's routed-mode pod routes are Lichen's too.
        if r.protocol == RT_PROTO_LICHEN || r.protocol == RT_PROTO_POD || !inside(&r.dst) {
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
        legacy_forward: crate::nl::xtables::forward()
            .map_err(|e| e.to_string())
            .transpose(),
    })
}
