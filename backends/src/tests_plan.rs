//! The plan from desired and actual state: what each difference turns into, in which order, and
//! that applying it converges (the fake kernel's model and random sequences in `model`).

use crate::conf::{BackendConf, VxlanConf};
use crate::desired::desired;
use crate::model::NodeInfo;
use crate::op::Op;
use crate::plan::plan;
use crate::state::{Actual, ActualNeighbour, ActualRoute, Desired, Dev, Fdb};
use crate::test_fixtures::*;
use crate::testing::FakeKernel;

mod model;

fn want(peers: &[NodeInfo], conf: &BackendConf) -> Desired {
    desired(&local_dual(), &underlay(), peers, conf, &cluster())
}

/// A kernel already holding `d`.
fn kernel_with(d: &Desired) -> FakeKernel {
    let mut k = FakeKernel::new(&underlay());
    converge(&mut k, d);
    k
}

fn peers3() -> Vec<NodeInfo> {
    vec![peer_dual(2), peer(3), far_peer(5)]
}

fn count(ops: &[Op], f: impl Fn(&Op) -> bool) -> usize {
    ops.iter().filter(|o| f(o)).count()
}

#[test]
fn nothing_to_do_on_an_empty_host_gw_node() {
    let d = want(&[], &BackendConf::HostGw);
    assert!(plan(&d, &Actual::default()).is_empty());
}

#[test]
fn empty_to_full_vxlan_creates_the_device_then_l2_entries_then_routes() {
    let d = want(&peers3(), &vx());
    let mut k = FakeKernel::new(&underlay());
    let ops = converge(&mut k, &d);
    assert!(matches!(&ops[0], Op::CreateDevice(dev) if dev.name == "lichen.1"));
    let up = ops
        .iter()
        .position(|o| matches!(o, Op::SetDeviceUp { .. }))
        .unwrap();
    let first_l2 = ops.iter().position(|o| phase(o) == 4).unwrap();
    let first_route = ops
        .iter()
        .position(|o| matches!(o, Op::AddRoute(_)))
        .unwrap();
    let last_l2 = ops.iter().rposition(|o| phase(o) == 4).unwrap();
    assert!(up < first_l2 && last_l2 < first_route);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddAddress { .. })), 2);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddNeighbour { .. })), 4);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddFdb { .. })), 3);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddRoute(_))), 4);
    assert_eq!(ops.len(), 1 + 2 + 1 + 4 + 3 + 4);
    assert_eq!(k.routes.len(), 4);
}

#[test]
fn empty_to_full_host_gw_adds_only_routes() {
    let d = want(&peers3(), &BackendConf::HostGw);
    let mut k = FakeKernel::new(&underlay());
    let ops = converge(&mut k, &d);
    // n5 is not adjacent: three routes (n2 twice, n3).
    assert_eq!(ops.len(), 3);
    assert!(ops
        .iter()
        .all(|o| matches!(o, Op::AddRoute(r) if r.dev == Dev::Underlay)));
}

#[test]
fn removing_a_node_deletes_its_route_before_its_neighbour_and_fdb() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let ops = converge(&mut k, &want(&[peer(3), far_peer(5)], &vx()));
    assert_eq!(count(&ops, |o| matches!(o, Op::DelRoute(_))), 2);
    assert_eq!(count(&ops, |o| matches!(o, Op::DelNeighbour { .. })), 2);
    assert_eq!(count(&ops, |o| matches!(o, Op::DelFdb { .. })), 1);
    assert_eq!(ops.len(), 5);
    assert!(matches!(ops[0], Op::DelRoute(_)) && matches!(ops[1], Op::DelRoute(_)));
    let dev = &k.devices[0];
    assert!(dev.neighbours.iter().all(|n| n.ip != ip("10.42.2.0")));
}

#[test]
fn removing_every_node_leaves_only_the_device() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let ops = converge(&mut k, &want(&[], &vx()));
    assert!(ops.iter().all(|o| phase(o) >= 6), "{ops:#?}");
    assert!(k.routes.is_empty());
    assert!(k.devices[0].neighbours.is_empty() && k.devices[0].fdb.is_empty());
}

#[test]
fn a_deleted_route_is_added_back_alone() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    let gone = k.routes.remove(1);
    let ops = converge(&mut k, &d);
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], Op::AddRoute(r) if r.dst == gone.dst));
}

#[test]
fn a_deleted_fdb_entry_is_added_back_alone() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    let gone = k.devices[0].fdb.remove(0);
    let ops = converge(&mut k, &d);
    assert_eq!(
        ops,
        vec![Op::AddFdb {
            dev: "lichen.1".into(),
            fdb: gone
        }]
    );
}

#[test]
fn a_wrong_or_learned_neighbour_is_corrected_in_place() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.devices[0].neighbours[0].mac = Some([0x02, 9, 9, 9, 9, 9]);
    k.devices[0].neighbours[1].permanent = false;
    let ops = converge(&mut k, &d);
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| matches!(o, Op::AddNeighbour { .. })));
}

#[test]
fn foreign_non_permanent_neighbours_are_left_to_the_kernel() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.devices[0].neighbours.push(ActualNeighbour {
        ip: ip("ff02::2"),
        mac: None,
        permanent: false,
    });
    assert!(plan(&d, &k.actual()).is_empty());
    k.devices[0].neighbours.push(ActualNeighbour {
        ip: ip("10.42.9.0"),
        mac: Some([2, 0, 0, 0, 0, 9]),
        permanent: true,
    });
    let ops = converge(&mut k, &d);
    assert_eq!(
        ops,
        vec![Op::DelNeighbour {
            dev: "lichen.1".into(),
            ip: ip("10.42.9.0")
        }]
    );
}

#[test]
fn a_device_with_the_wrong_mac_is_replaced_and_refilled() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.devices[0].mac = [0x02, 1, 2, 3, 4, 5];
    let old_ifindex = k.devices[0].ifindex;
    let ops = converge(&mut k, &d);
    assert!(matches!(&ops[0], Op::ReplaceDevice(dev) if dev.mac == d.device.as_ref().unwrap().mac));
    // Everything on the old device went with it: no deletions, everything re-added.
    assert_eq!(count(&ops, |o| phase(o) >= 6), 0);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddRoute(_))), 4);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddFdb { .. })), 3);
    assert_ne!(k.devices[0].ifindex, old_ifindex);
}

#[test]
fn wrong_identity_attributes_replace_the_device() {
    type Drift = fn(&mut crate::state::ActualDevice);
    let drifts: [Drift; 5] = [
        |d| d.vni = 7,
        |d| d.port = 4789,
        |d| d.local = Some(ip("198.51.100.99")),
        |d| d.underlay_ifindex = None,
        |d| d.learning = true,
    ];
    let d = want(&peers3(), &vx());
    for drift in drifts {
        let mut k = kernel_with(&d);
        drift(&mut k.devices[0]);
        let ops = converge(&mut k, &d);
        assert!(matches!(ops[0], Op::ReplaceDevice(_)), "{ops:#?}");
    }
}

#[test]
fn mtu_is_fixed_in_place() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.devices[0].mtu = 1500;
    let ops = converge(&mut k, &d);
    assert_eq!(
        ops,
        vec![Op::SetDeviceMtu {
            dev: "lichen.1".into(),
            mtu: 1450
        }]
    );
}

#[test]
fn a_down_device_is_set_up() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.devices[0].up = false;
    assert_eq!(
        converge(&mut k, &d),
        vec![Op::SetDeviceUp {
            dev: "lichen.1".into()
        }]
    );
}

#[test]
fn foreign_addresses_go_but_ipv6_link_local_stays() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    assert!(k.devices[0]
        .addresses
        .iter()
        .any(|a| a.to_string().starts_with("fe80")));
    k.devices[0].addresses.push(net("169.254.7.7/16"));
    k.devices[0].addresses.retain(|a| *a != net("10.42.1.0/32"));
    let ops = converge(&mut k, &d);
    assert_eq!(
        ops,
        vec![
            Op::DelAddress {
                dev: "lichen.1".into(),
                addr: net("169.254.7.7/16")
            },
            Op::AddAddress {
                dev: "lichen.1".into(),
                addr: net("10.42.1.0/32")
            },
        ]
    );
}

#[test]
fn a_wrong_route_is_replaced_and_a_stray_one_deleted() {
    let d = want(&peers3(), &vx());
    let mut k = kernel_with(&d);
    k.routes[0].gw = Some(ip("10.42.77.0"));
    let stray = ActualRoute {
        dst: net("10.42.77.0/24"),
        gw: Some(ip("198.51.100.77")),
        oif: 2,
        onlink: false,
    };
    k.routes.push(stray);
    let ops = converge(&mut k, &d);
    assert_eq!(ops.len(), 2);
    assert!(matches!(&ops[0], Op::ReplaceRoute(r) if r.dst == d.routes[0].dst));
    assert_eq!(ops[1], Op::DelRoute(stray));
}

#[test]
fn duplicate_routes_to_one_destination_collapse_to_one() {
    let d = want(&[peer(3)], &BackendConf::HostGw);
    let mut k = kernel_with(&d);
    let dup = ActualRoute {
        gw: Some(ip("198.51.100.99")),
        ..k.routes[0]
    };
    k.routes.insert(0, dup);
    let ops = converge(&mut k, &d);
    assert_eq!(ops, vec![Op::DelRoute(dup)]);
}

#[test]
fn a_peer_that_changed_address_gets_the_new_remote_before_the_old_goes() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let mut moved = peer(3);
    moved.internal_ips = vec![ip("198.51.100.133")];
    let d = want(&[peer_dual(2), moved.clone(), far_peer(5)], &vx());
    let ops = converge(&mut k, &d);
    let mac = crate::vtep_mac(&moved);
    assert_eq!(
        ops,
        vec![
            Op::AddFdb {
                dev: "lichen.1".into(),
                fdb: Fdb {
                    mac,
                    dst: ip("198.51.100.133")
                }
            },
            Op::DelFdb {
                dev: "lichen.1".into(),
                fdb: Fdb {
                    mac,
                    dst: ip("198.51.100.13")
                }
            },
        ]
    );
}

#[test]
fn switching_vxlan_to_host_gw_moves_routes_then_deletes_the_device() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let ops = converge(&mut k, &want(&peers3(), &BackendConf::HostGw));
    assert_eq!(
        count(
            &ops,
            |o| matches!(o, Op::ReplaceRoute(r) if r.dev == Dev::Underlay)
        ),
        3
    );
    // n5 is not adjacent: its overlay route is removed.
    assert_eq!(count(&ops, |o| matches!(o, Op::DelRoute(_))), 1);
    assert_eq!(
        ops.last(),
        Some(&Op::DeleteDevice {
            dev: "lichen.1".into()
        })
    );
    assert!(k.devices.is_empty());
    assert_eq!(k.routes.len(), 3);
}

#[test]
fn switching_host_gw_to_vxlan_replaces_routes_after_the_l2_entries() {
    let mut k = kernel_with(&want(&peers3(), &BackendConf::HostGw));
    let ops = converge(&mut k, &want(&peers3(), &vx()));
    assert_eq!(count(&ops, |o| matches!(o, Op::ReplaceRoute(_))), 3);
    assert_eq!(count(&ops, |o| matches!(o, Op::AddRoute(_))), 1);
}

#[test]
fn a_new_vni_builds_the_new_device_before_removing_the_old() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let conf = BackendConf::Vxlan(VxlanConf {
        vni: 2,
        ..VxlanConf::default()
    });
    let ops = converge(&mut k, &want(&peers3(), &conf));
    assert!(matches!(&ops[0], Op::CreateDevice(d) if d.name == "lichen.2"));
    assert_eq!(
        ops.last(),
        Some(&Op::DeleteDevice {
            dev: "lichen.1".into()
        })
    );
    assert_eq!(count(&ops, |o| matches!(o, Op::ReplaceRoute(_))), 4);
    assert_eq!(k.devices.len(), 1);
    assert_eq!(k.devices[0].name, "lichen.2");
}

#[test]
fn toggling_direct_routing_moves_adjacent_peers_without_a_gap() {
    let mut k = kernel_with(&want(&peers3(), &vx()));
    let ops = converge(&mut k, &want(&peers3(), &vx_direct()));
    // n2 (both families) and n3 go direct: three replaced routes, their entries removed after.
    assert_eq!(
        count(
            &ops,
            |o| matches!(o, Op::ReplaceRoute(r) if r.dev == Dev::Underlay)
        ),
        3
    );
    assert_eq!(count(&ops, |o| matches!(o, Op::DelNeighbour { .. })), 3);
    assert_eq!(count(&ops, |o| matches!(o, Op::DelFdb { .. })), 2);
    let back = converge(&mut k, &want(&peers3(), &vx()));
    assert_eq!(
        count(
            &back,
            |o| matches!(o, Op::ReplaceRoute(r) if r.dev == Dev::Vxlan)
        ),
        3
    );
}

#[test]
fn routes_on_the_underlay_follow_a_new_underlay_ifindex() {
    let d = want(&[peer(3)], &BackendConf::HostGw);
    let mut k = kernel_with(&d);
    k.routes[0].oif = 9;
    let ops = converge(&mut k, &d);
    assert!(matches!(&ops[..], [Op::ReplaceRoute(_)]));
}
