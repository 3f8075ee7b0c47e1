//! The reconciler's answers to field failures, against the fake kernel of
//! [`super::reconcile_tests`]: a kernel without the vxlan module, a peer losing its address,
//! the metrics of a pass.

use lichen_backends::{PeerState, Via};

use super::reconcile_tests::{node, state, Case};
use crate::k8s::Node;

const DIRECT: &str =
    r#"{"Network":"10.100.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}"#;

/// node1 and node2 on the LAN (198.51.100.0/24), node5 behind a router.
fn lan_and_far() -> Vec<Node> {
    vec![
        node("node1", "10.100.1.0/24", "198.51.100.11"),
        node("node2", "10.100.2.0/24", "198.51.100.12"),
        node("node5", "10.100.5.0/24", "203.0.113.5"),
    ]
}

#[test]
fn without_the_vxlan_module_direct_routes_work_and_status_says_what_to_install() {
    let mut c = Case::new(DIRECT);
    c.rec.kernel.refuse_vxlan = Some(libc::EOPNOTSUPP);
    // All on the LAN: no device is needed, so nothing fails.
    let r = c.run(&state(&lan_and_far()[..2]));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    assert!(r.ready());
    assert!(c.rec.kernel.k.devices.is_empty());
    assert_eq!(c.rec.kernel.k.routes.len(), 1);
    // A peer behind a router needs the overlay: the kernel refuses the device.
    let r = c.run(&state(&lan_and_far()));
    let text = r.render();
    assert!(text.contains("linux-modules-extra-raspi"), "{text}");
    assert!(text.contains("modprobe vxlan"), "{text}");
    assert!(!r.ready(), "unready, not dead");
    // ... and the LAN peer's direct route is still programmed.
    let routes = &c.rec.kernel.k.routes;
    assert!(routes
        .iter()
        .any(|x| x.dst.to_string() == "10.100.2.0/24"
            && x.gw == Some("198.51.100.12".parse().unwrap())));
    let node2 = r.peers.iter().find(|p| p.name == "node2").unwrap();
    assert_eq!(node2.state, PeerState::Programmed(Via::Direct));
}

#[test]
fn a_peer_whose_address_vanishes_keeps_its_route_until_the_node_is_deleted() {
    let mut c = Case::new(r#"{"Network":"10.100.0.0/16","Backend":{"Type":"host-gw"}}"#);
    let mut nodes = lan_and_far();
    nodes.pop();
    c.run(&state(&nodes));
    let before = c.rec.kernel.k.routes.clone();
    assert_eq!(before.len(), 1);
    nodes[1].internal_ips.clear();
    let r = c.run(&state(&nodes));
    assert_eq!(c.rec.kernel.k.routes, before, "the route stays");
    assert!(r.last_drift.is_empty(), "{:?}", r.last_drift);
    let text = r.render();
    assert!(text.contains("stale: address gone since"), "{text}");
    assert!(text.contains("198.51.100.12"), "{text}");
    assert!(super::metrics::render(&r, None).contains("lichen_peers_stale 1\n"));
    // Deleted: now the route goes.
    nodes.pop();
    let r = c.run(&state(&nodes));
    assert!(c.rec.kernel.k.routes.is_empty());
    assert!(r.stale.is_empty());
}

#[test]
fn every_pass_is_timed_in_the_histogram() {
    let mut c = Case::new(DIRECT);
    let mut r = super::report::Report::default();
    let s = state(&lan_and_far());
    c.rec.reconcile(&s, &mut r);
    c.rec.reconcile(&s, &mut r);
    let m = super::metrics::render(&r, None);
    assert!(
        m.contains("lichen_reconcile_duration_seconds_count 2\n"),
        "{m}"
    );
    assert!(m.contains("lichen_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_eq!(
        c.rec.kernel.k.routes.iter().filter(|x| x.oif != 2).count(),
        1,
        "node5 over the device"
    );
}

#[test]
fn policy_figures_are_in_the_metrics() {
    let mut c = Case::new(
        r#"{"Network":"10.100.0.0/16","Backend":{"Type":"host-gw"},"NetworkPolicy":true}"#,
    );
    let s = state(&lan_and_far());
    let first = super::metrics::render(&c.run(&s), None);
    assert!(first.contains("lichen_policy_enabled 1\n"), "{first}");
    assert!(
        first.contains("lichen_policy_objects{kind=\"rules\"} "),
        "{first}"
    );
    assert!(
        first.contains("lichen_policy_last_apply_timestamp_seconds{mode=\"replaced\"} "),
        "{first}"
    );
    let mut off = Case::new(r#"{"Network":"10.100.0.0/16","Backend":{"Type":"host-gw"}}"#);
    let m = super::metrics::render(&off.run(&s), None);
    assert!(m.contains("lichen_policy_enabled 0\n"), "{m}");
    assert!(!m.contains("lichen_policy_objects"), "{m}");
}
