//! The planner: the operations that turn the actual kernel state into the desired one.
//!
//! Order (each step only as needed):
//!
//! 1. the device (VXLAN or WireGuard): create or replace it, set its MTU, fix its addresses,
//!    set it up;
//! 2. neighbours and FDB entries that are missing or wrong;
//! 3. routes that are missing or wrong (add/replace) — only now can the kernel use them, and
//!    their next hops already resolve statically;
//! 4. routes that are no longer wanted;
//! 5. neighbours and FDB entries that are no longer wanted (no route uses them any more);
//! 6. `lichen.*` devices and the WireGuard device that are no longer wanted (routes have moved
//!    off them).
//!
//! Only Lichen's objects are touched: routes with [`crate::RT_PROTO_LICHEN`], `lichen.*`
//! devices and permanent entries on them, the `lichen-wg` link. WireGuard peers are not plan
//! steps: the agent's WireGuard controller syncs [`crate::WgDevice::peers`] with the device. Applying the plan and planning again gives nothing.

use std::collections::BTreeSet;

use crate::op::Op;
use crate::plan_device::{plan_device, DeviceView};
use crate::state::{Actual, ActualRoute, Desired, Dev, RouteEntry};

/// The operations, in a safe order, that make `actual` match `desired`.
pub fn plan(desired: &Desired, actual: &Actual) -> Vec<Op> {
    let mut ops = Vec::new();
    let view = plan_device(desired, actual, &mut ops);
    let mut removals = Vec::new();
    if let Some(dev) = &desired.device {
        l2_entries(desired, &view, &dev.name, &mut ops, &mut removals);
    }
    let route_removals = routes(desired, actual, &view, &mut ops);
    ops.extend(route_removals);
    ops.extend(removals);
    ops.extend(view.stale.into_iter().map(|dev| Op::DeleteDevice { dev }));
    ops.extend(view.wg_stale.map(|dev| Op::DeleteWireguard { dev }));
    ops
}

/// Neighbour and FDB additions into `adds`, removals into `dels`.
fn l2_entries(
    desired: &Desired,
    view: &DeviceView,
    dev: &str,
    adds: &mut Vec<Op>,
    dels: &mut Vec<Op>,
) {
    let name = || dev.to_string();
    for want in &desired.neighbours {
        let ok = view
            .neighbours
            .iter()
            .any(|n| n.ip == want.ip && n.mac == Some(want.mac) && n.permanent);
        if !ok {
            adds.push(Op::AddNeighbour {
                dev: name(),
                neighbour: *want,
            });
        }
    }
    for want in &desired.fdb {
        if !view.fdb.contains(want) {
            adds.push(Op::AddFdb {
                dev: name(),
                fdb: *want,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for have in view.neighbours {
        // Non-permanent entries are the kernel's (e.g. multicast NDP): it recreates them.
        let ours = have.permanent;
        let wanted = desired.neighbours.iter().any(|n| n.ip == have.ip);
        if ours && !wanted && seen.insert(have.ip) {
            dels.push(Op::DelNeighbour {
                dev: name(),
                ip: have.ip,
            });
        }
    }
    for have in view.fdb {
        if !desired.fdb.contains(have) {
            dels.push(Op::DelFdb {
                dev: name(),
                fdb: *have,
            });
        }
    }
}

/// Route additions and replacements into `ops`; the removals are returned.
fn routes(desired: &Desired, actual: &Actual, view: &DeviceView, ops: &mut Vec<Op>) -> Vec<Op> {
    // Routes through a replaced device vanish with it.
    let present: Vec<&ActualRoute> = actual
        .routes
        .iter()
        .filter(|r| Some(r.oif) != view.replaced_ifindex)
        .collect();
    let mut kept: BTreeSet<usize> = BTreeSet::new();
    for want in &desired.routes {
        let same_dst: Vec<usize> = (0..present.len())
            .filter(|i| present[*i].dst == want.dst)
            .collect();
        match same_dst
            .iter()
            .find(|i| matches(want, present[**i], desired, view))
        {
            Some(i) => {
                kept.insert(*i);
            }
            None if same_dst.is_empty() => ops.push(Op::AddRoute(*want)),
            None => {
                // NLM_F_REPLACE takes the place of the first; any others go below.
                kept.insert(same_dst[0]);
                ops.push(Op::ReplaceRoute(*want));
            }
        }
    }
    (0..present.len())
        .filter(|i| !kept.contains(i))
        .map(|i| Op::DelRoute(*present[i]))
        .collect()
}

/// Whether an existing route is exactly the wanted one.
fn matches(want: &RouteEntry, have: &ActualRoute, desired: &Desired, view: &DeviceView) -> bool {
    let oif = match want.dev {
        Dev::Underlay => Some(desired.underlay_ifindex),
        Dev::Vxlan => view.kept_ifindex,
        Dev::Wireguard => view.wg_kept_ifindex,
    };
    have.gw == Some(want.gw) && have.onlink == want.onlink && Some(have.oif) == oif
}
