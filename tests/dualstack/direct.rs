//! VXLAN DirectRouting in a dual-stack cluster with a node behind a router: direct routes to
//! the adjacent peer in each family, the overlay to the routed one, pods reaching each other in
//! both families, and the routed node leaving and joining again.

use std::time::Duration;

use super::common::cluster::*;
use super::{assert_pods_reach_each_other, families, route_ok, WAIT};

const VXLAN_DIRECT: &str = r#"{"Type":"vxlan","DirectRouting":true}"#;

/// VXLAN with DirectRouting in both families: two nodes on the LAN and one behind a router
/// ([`Cluster::add_routed_node`]). Each LAN node routes the other's subnets of both families
/// directly via its InternalIP of that family, and the routed node's over `lichen.1`; pods reach
/// each other in every family; when the routed node leaves, its routes go in both families and
/// the adjacent peer's stay; when it joins again, they come back and pods reach each other again.
fn direct_routing_works(tag: &str, stack: Stack) {
    let mut c = Cluster::with_stack(tag, 2, VXLAN_DIRECT, stack);
    let far = c.add_routed_node(3);
    let fams = families(&c);
    c.start_agents();
    for k in 0..far {
        for j in (0..c.nodes.len()).filter(|j| *j != k) {
            for s in c.nodes[j].subnets.clone() {
                let what = format!("{}'s route to {} ({s})", c.nodes[k].name, c.nodes[j].name);
                let ok = || route_ok(&c, k, j, &s, j == far);
                if !testkit::poll(WAIT, Duration::from_millis(50), ok) {
                    panic!("{what}: got {:?}", c.route(k, &s));
                }
            }
        }
    }
    let pods: Vec<Pod> = (0..c.nodes.len())
        .map(|k| c.pod_attached(k, &format!("{tag}-pod{k}")))
        .collect();
    assert_pods_reach_each_other(&c, &pods, &fams);

    c.unpublish(far);
    for s in c.nodes[far].subnets.clone() {
        wait_for(&format!("node1's route to the gone {s}"), WAIT, || {
            c.route(0, &s).is_empty()
        });
    }
    for s in c.nodes[1].subnets.clone() {
        assert!(route_ok(&c, 0, 1, &s, false), "{:?}", c.route(0, &s));
    }
    // It joins again (a node added to a running cluster): routes in both families, and traffic.
    c.publish(far);
    for s in c.nodes[far].subnets.clone() {
        let ok = || route_ok(&c, 0, far, &s, true);
        if !testkit::poll(WAIT, Duration::from_millis(50), ok) {
            panic!(
                "node1's route to the rejoined {s}: got {:?}",
                c.route(0, &s)
            );
        }
    }
    assert_pods_reach_each_other(&c, &pods, &fams);
}

#[test]
fn dual_stack_vxlan_direct_routing_with_a_routed_node() {
    testkit::require_root!();
    direct_routing_works("dsdr", Stack::Dual);
}

#[test]
fn dual_stack_ipv6_first_vxlan_direct_routing_with_a_routed_node() {
    testkit::require_root!();
    direct_routing_works("d6dr", Stack::DualV6First);
}
