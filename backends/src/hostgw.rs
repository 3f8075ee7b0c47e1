//! host-gw: every peer subnet is routed via the peer's own address on the underlay.
//!
//! Design notes. The next hop must be on the same L2 segment: the kernel would accept a route
//! via a far gateway only with `onlink`, and then ARP for it in vain. Flannel tries to add the
//! route anyway and only logs the kernel's refusal; Lichen judges adjacency itself (the peer's
//! address lies in a connected subnet of the underlay) and reports the peer as unreachable with
//! the fix, instead of programming a route that cannot work. An IPv6 podCIDR is routed via the
//! peer's IPv6 InternalIP, an IPv4 one via its IPv4 InternalIP. VXLAN's DirectRouting uses the
//! same rule ([`direct_route`]).

use crate::model::LocalUnderlay;
use crate::peers::{pending, status, Candidate};
use crate::state::{Desired, Dev, PeerState, RouteEntry, Via};

/// The host-gw route for one peer subnet, or why there is none.
pub(crate) fn direct_route(
    c: &Candidate,
    underlay: &LocalUnderlay,
) -> Result<RouteEntry, PeerState> {
    let family = if c.cidr.addr().is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    };
    let Some(gw) = c.peer.internal_ip_for(&c.cidr) else {
        return Err(pending(&format!(
            "no {family} InternalIP to route its {family} podCIDR via"
        )));
    };
    if !underlay.is_adjacent(&gw) {
        return Err(PeerState::Unreachable(format!(
            "{gw} is not on the same L2 segment as {} ({}); host-gw needs L2 adjacency: \
             use the vxlan backend or DirectRouting",
            underlay.name,
            onlink_list(underlay)
        )));
    }
    Ok(RouteEntry {
        dst: c.cidr,
        gw,
        dev: Dev::Underlay,
        onlink: false,
    })
}

/// Adds the host-gw routes (and statuses) for every candidate.
pub(crate) fn add_all(out: &mut Desired, candidates: &[Candidate], underlay: &LocalUnderlay) {
    for c in candidates {
        let state = match direct_route(c, underlay) {
            Ok(route) => {
                out.routes.push(route);
                PeerState::Programmed(Via::Direct)
            }
            Err(state) => state,
        };
        out.peers.push(status(c.peer, Some(c.cidr), state));
    }
}

fn onlink_list(underlay: &LocalUnderlay) -> String {
    if underlay.onlink.is_empty() {
        return "no connected subnets".to_string();
    }
    let nets: Vec<String> = underlay.onlink.iter().map(ToString::to_string).collect();
    format!("connected: {}", nets.join(", "))
}
