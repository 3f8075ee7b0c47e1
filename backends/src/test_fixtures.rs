//! Shared builders for the unit tests.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::conf::{BackendConf, VxlanConf, WireguardConf};
use crate::model::{LocalUnderlay, NodeInfo};
use crate::op::Op;
use crate::plan::plan;
use crate::state::Desired;
use crate::testing::FakeKernel;

pub fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn node(name: &str, cidrs: &[&str], ips: &[&str]) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        pod_cidrs: cidrs.iter().map(|c| net(c)).collect(),
        internal_ips: ips.iter().map(|i| ip(i)).collect(),
        vtep_mac: None,
        wg_public_key: None,
        wg_endpoint: None,
    }
}

/// eth0, 198.51.100.10/24 and 2001:db8:1::10/64, MTU 1500.
pub fn underlay() -> LocalUnderlay {
    LocalUnderlay {
        ifindex: 2,
        name: "eth0".to_string(),
        addr: ip("198.51.100.10"),
        onlink: vec![net("198.51.100.0/24"), net("2001:db8:1::/64")],
        mtu: 1500,
        node_nets: vec![
            (net("198.51.100.10/24"), "eth0".to_string()),
            (net("2001:db8:1::10/64"), "eth0".to_string()),
        ],
    }
}

/// The same link with an IPv6 underlay address.
pub fn underlay6() -> LocalUnderlay {
    LocalUnderlay {
        addr: ip("2001:db8:1::10"),
        ..underlay()
    }
}

/// n1: 10.42.1.0/24 on 198.51.100.10.
pub fn local() -> NodeInfo {
    node("n1", &["10.42.1.0/24"], &["198.51.100.10"])
}

pub fn local_dual() -> NodeInfo {
    node(
        "n1",
        &["10.42.1.0/24", "fd00:42:0:1::/64"],
        &["198.51.100.10", "2001:db8:1::10"],
    )
}

/// An adjacent peer `n<i>` with 10.42.<i>.0/24 on 198.51.100.<10+i>.
pub fn peer(i: u8) -> NodeInfo {
    node(
        &format!("n{i}"),
        &[&format!("10.42.{i}.0/24")],
        &[&format!("198.51.100.{}", 10 + i)],
    )
}

/// A peer `n<i>` on another segment (203.0.113.<i>).
pub fn far_peer(i: u8) -> NodeInfo {
    node(
        &format!("n{i}"),
        &[&format!("10.42.{i}.0/24")],
        &[&format!("203.0.113.{i}")],
    )
}

/// A dual-stack adjacent peer.
pub fn peer_dual(i: u8) -> NodeInfo {
    node(
        &format!("n{i}"),
        &[&format!("10.42.{i}.0/24"), &format!("fd00:42:0:{i:x}::/64")],
        &[
            &format!("198.51.100.{}", 10 + i),
            &format!("2001:db8:1::{:x}", 0x10 + u16::from(i)),
        ],
    )
}

pub fn cluster() -> Vec<IpNet> {
    vec![net("10.42.0.0/16"), net("fd00:42::/56")]
}

pub fn vx() -> BackendConf {
    BackendConf::Vxlan(VxlanConf::default())
}

pub fn vx_direct() -> BackendConf {
    BackendConf::Vxlan(VxlanConf {
        direct_routing: true,
        ..VxlanConf::default()
    })
}

pub fn wg() -> BackendConf {
    BackendConf::Wireguard(WireguardConf::default())
}

/// A WireGuard public key made of one repeated byte.
pub fn key(b: u8) -> [u8; 32] {
    [b; 32]
}

/// The node with the WireGuard key `key(b)`.
pub fn keyed(mut n: NodeInfo, b: u8) -> NodeInfo {
    n.wg_public_key = Some(key(b));
    n
}

/// Plans, applies to the model, and checks that planning again gives nothing and that every
/// overlay route resolves statically. Returns the plan.
pub fn converge(kernel: &mut FakeKernel, want: &Desired) -> Vec<Op> {
    let ops = plan(want, &kernel.actual());
    assert_phases_ordered(&ops);
    if let Err((i, e)) = kernel.apply_all(want, &ops) {
        panic!("op {i} ({:?}) refused: {e}\nplan: {ops:#?}", ops[i]);
    }
    let again = plan(want, &kernel.actual());
    assert!(again.is_empty(), "not idempotent: {again:#?}");
    assert!(
        kernel.routes_resolve(),
        "a route does not resolve: {kernel:#?}"
    );
    ops
}

/// The step of the documented order an operation belongs to.
pub fn phase(op: &Op) -> u8 {
    match op {
        Op::CreateDevice(_) | Op::ReplaceDevice(_) | Op::CreateWireguard(_) => 0,
        Op::SetDeviceMtu { .. } => 1,
        Op::DelAddress { .. } | Op::AddAddress { .. } => 2,
        Op::SetDeviceUp { .. } => 3,
        Op::AddNeighbour { .. } | Op::AddFdb { .. } => 4,
        Op::AddRoute(_) | Op::ReplaceRoute(_) => 5,
        Op::DelRoute(_) => 6,
        Op::DelNeighbour { .. } | Op::DelFdb { .. } => 7,
        Op::DeleteDevice { .. } | Op::DeleteWireguard { .. } => 8,
    }
}

pub fn assert_phases_ordered(ops: &[Op]) {
    let phases: Vec<u8> = ops.iter().map(phase).collect();
    assert!(
        phases.windows(2).all(|w| w[0] <= w[1]),
        "operations out of order: {ops:#?}"
    );
}
