//! The plan with the WireGuard device: creating and adjusting `lichen-wg`, routes through it,
//! and switching backends in either direction.

use crate::conf::{BackendConf, WireguardConf};
use crate::desired::desired;
use crate::model::NodeInfo;
use crate::op::Op;
use crate::plan::plan;
use crate::state::{Actual, Desired, Dev};
use crate::test_fixtures::*;
use crate::testing::FakeKernel;

fn want(peers: &[NodeInfo], conf: &BackendConf) -> Desired {
    desired(
        &keyed(local_dual(), 1),
        &underlay(),
        peers,
        conf,
        &cluster(),
    )
}

/// n2 (both families), n3, n5 (another segment), each with its key.
fn peers3() -> Vec<NodeInfo> {
    vec![
        keyed(peer_dual(2), 2),
        keyed(peer(3), 3),
        keyed(far_peer(5), 5),
    ]
}

fn kernel_with(d: &Desired) -> FakeKernel {
    let mut k = FakeKernel::new(&underlay());
    converge(&mut k, d);
    k
}

fn count(ops: &[Op], f: impl Fn(&Op) -> bool) -> usize {
    ops.iter().filter(|o| f(o)).count()
}

fn wg_dev() -> String {
    "lichen-wg".to_string()
}

#[test]
fn empty_to_full_creates_the_device_then_its_addresses_then_up_then_routes() {
    let d = want(&peers3(), &wg());
    let mut k = FakeKernel::new(&underlay());
    // converge also checks that planning again gives nothing.
    let ops = converge(&mut k, &d);
    assert!(matches!(&ops[0], Op::CreateWireguard(dev) if *dev == d.wireguard.clone().unwrap()));
    assert_eq!(
        ops[1..4],
        [
            Op::AddAddress {
                dev: wg_dev(),
                addr: net("10.42.1.0/32")
            },
            Op::AddAddress {
                dev: wg_dev(),
                addr: net("fd00:42:0:1::/128")
            },
            Op::SetDeviceUp { dev: wg_dev() },
        ]
    );
    assert_eq!(ops.len(), 8);
    assert!(ops[4..]
        .iter()
        .all(|o| matches!(o, Op::AddRoute(r) if r.dev == Dev::Wireguard && r.onlink)));
    let link = k.wireguard.as_ref().unwrap();
    assert!(link.up);
    assert_eq!(link.mtu, 1440);
    assert!(k.routes.iter().all(|r| r.oif == link.ifindex));
    assert_eq!(k.routes.len(), 4);
}

#[test]
fn a_new_peer_key_or_endpoint_is_no_plan_step() {
    let d = want(&peers3(), &wg());
    let mut k = kernel_with(&d);
    // The controller syncs peers; the plan sees the same link and routes.
    let mut moved = peers3();
    moved[0] = keyed(peer_dual(2), 22);
    moved[1].wg_endpoint = Some("203.0.113.3:51820".parse().unwrap());
    let d2 = want(&moved, &wg());
    assert_ne!(d.wireguard, d2.wireguard);
    assert!(converge(&mut k, &d2).is_empty());
}

#[test]
fn removing_a_node_deletes_only_its_route() {
    let mut k = kernel_with(&want(&peers3(), &wg()));
    let ops = converge(&mut k, &want(&peers3()[1..], &wg()));
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| matches!(o, Op::DelRoute(_))));
    assert!(k.wireguard.is_some());
}

#[test]
fn mtu_addresses_and_state_are_fixed_in_place() {
    let d = want(&peers3(), &wg());
    let mut k = kernel_with(&d);
    let link = k.wireguard.as_mut().unwrap();
    link.mtu = 1420;
    link.up = false;
    link.addresses.push(net("192.0.2.99/32"));
    link.addresses.push(net("fe80::1/64"));
    let ops = converge(&mut k, &d);
    assert_eq!(
        ops,
        [
            Op::SetDeviceMtu {
                dev: wg_dev(),
                mtu: 1440
            },
            Op::DelAddress {
                dev: wg_dev(),
                addr: net("192.0.2.99/32")
            },
            Op::SetDeviceUp { dev: wg_dev() },
        ]
    );
}

#[test]
fn a_new_mtu_in_the_config_is_set_in_place() {
    let mut k = kernel_with(&want(&peers3(), &wg()));
    let conf = BackendConf::Wireguard(WireguardConf {
        mtu: Some(1380),
        ..WireguardConf::default()
    });
    let ops = converge(&mut k, &want(&peers3(), &conf));
    assert_eq!(
        ops,
        [Op::SetDeviceMtu {
            dev: wg_dev(),
            mtu: 1380
        }]
    );
}

#[test]
fn a_vanished_device_is_created_again_with_its_routes() {
    let d = want(&peers3(), &wg());
    let mut k = kernel_with(&d);
    // As if wireguard-go died: the TUN link goes, and every route through it.
    let gone = k.wireguard.take().unwrap();
    k.routes.retain(|r| r.oif != gone.ifindex);
    let ops = converge(&mut k, &d);
    assert!(matches!(ops[0], Op::CreateWireguard(_)));
    assert_eq!(count(&ops, |o| matches!(o, Op::AddRoute(_))), 4);
}

#[test]
fn routes_through_an_old_ifindex_are_replaced() {
    let d = want(&peers3(), &wg());
    let mut k = kernel_with(&d);
    k.wireguard.as_mut().unwrap().ifindex = 77;
    let ops = converge(&mut k, &d);
    assert_eq!(ops.len(), 4);
    assert!(ops.iter().all(|o| matches!(o, Op::ReplaceRoute(_))));
}

#[test]
fn switching_vxlan_to_wireguard_moves_routes_then_deletes_the_vxlan_device() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let ops = converge(&mut k, &want(&peers3(), &wg()));
    assert!(matches!(ops[0], Op::CreateWireguard(_)));
    assert_eq!(
        count(
            &ops,
            |o| matches!(o, Op::ReplaceRoute(r) if r.dev == Dev::Wireguard)
        ),
        4
    );
    assert_eq!(
        ops.last(),
        Some(&Op::DeleteDevice {
            dev: "lichen.1".into()
        })
    );
    assert!(k.devices.is_empty());
    assert_eq!(k.routes.len(), 4);
}

#[test]
fn switching_wireguard_to_vxlan_deletes_lichen_wg_last() {
    let mut k = kernel_with(&want(&peers3(), &wg()));
    let ops = converge(&mut k, &want(&peers3(), &vx()));
    assert!(matches!(ops[0], Op::CreateDevice(_)));
    assert_eq!(
        count(
            &ops,
            |o| matches!(o, Op::ReplaceRoute(r) if r.dev == Dev::Vxlan)
        ),
        4
    );
    assert_eq!(ops.last(), Some(&Op::DeleteWireguard { dev: wg_dev() }));
    assert!(k.wireguard.is_none());
    assert_eq!(k.devices.len(), 1);
}

#[test]
fn switching_wireguard_to_host_gw_deletes_the_unroutable_and_the_device() {
    let mut k = kernel_with(&want(&peers3(), &wg()));
    let ops = converge(&mut k, &want(&peers3(), &BackendConf::HostGw));
    // n5 is not adjacent: its route goes with no replacement.
    assert_eq!(count(&ops, |o| matches!(o, Op::ReplaceRoute(_))), 3);
    assert_eq!(count(&ops, |o| matches!(o, Op::DelRoute(_))), 1);
    assert_eq!(ops.last(), Some(&Op::DeleteWireguard { dev: wg_dev() }));
    assert!(k.wireguard.is_none());
}

#[test]
fn cleanup_removes_the_device_and_its_routes() {
    let mut k = kernel_with(&want(&peers3(), &wg()));
    let none = Desired::default();
    let ops = converge(&mut k, &none);
    assert_eq!(ops.last(), Some(&Op::DeleteWireguard { dev: wg_dev() }));
    assert_eq!(k.actual(), Actual::default());
}

#[test]
fn the_model_refuses_a_route_before_the_device_is_up() {
    let d = want(&[keyed(peer(3), 3)], &wg());
    let ops = plan(&d, &Actual::default());
    let bad: Vec<Op> = ops
        .iter()
        .filter(|o| !matches!(o, Op::SetDeviceUp { .. }))
        .cloned()
        .collect();
    let err = FakeKernel::new(&underlay())
        .apply_all(&d, &bad)
        .unwrap_err();
    assert!(
        matches!(err.1, crate::testing::FakeError::NetDown(_)),
        "{err:?}"
    );
}
