//! The reconciler when the kernel refuses a step or this Node's entry goes bad: status says
//! what the kernel accepted, and peer changes keep applying from this Node's last good entry.

use lichen_backends::{PeerState, Via};

use super::reconcile_tests::{node, state, three, Case, HOSTGW, VXLAN};

fn peer_state(r: &super::report::Report, name: &str) -> PeerState {
    r.peers
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .state
        .clone()
}

#[test]
fn a_step_the_kernel_refuses_marks_its_peer_failed_with_the_error() {
    for conf in [HOSTGW, VXLAN] {
        let mut c = Case::new(conf);
        c.rec.kernel.refuse = vec!["10.100.2.0/24".parse().unwrap()];
        for _ in 0..2 {
            let r = c.run(&state(&three()));
            let PeerState::Failed(why) = peer_state(&r, "node2") else {
                panic!("{conf}: {:?}", r.peers);
            };
            assert!(why.contains("File exists"), "{why}");
            assert!(matches!(peer_state(&r, "node3"), PeerState::Programmed(_)));
            assert!(r.render().contains("failed: the kernel refused"));
            assert!(super::metrics::render(&r, None).contains("lichen_peers{state=\"failed\"} 1"));
            assert!(!r.ready());
        }
        c.rec.kernel.refuse.clear();
        let r = c.run(&state(&three()));
        assert!(matches!(peer_state(&r, "node2"), PeerState::Programmed(_)));
    }
}

#[test]
fn peer_changes_apply_from_the_last_good_entry_while_this_nodes_entry_is_bad() {
    let mut c = Case::new(HOSTGW);
    let r = c.run(&state(&three()));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    // node1's file turned malformed: it is gone from the state; node2 moves.
    let mut s = state(&[
        node("node2", "10.100.2.0/24", "198.51.100.22"),
        node("node3", "10.100.3.0/24", "198.51.100.13"),
    ]);
    s.skipped
        .insert("node1.json".into(), "expected value at line 1".into());
    let r = c.run(&s);
    assert!(r.waiting.is_none(), "{:?}", r.waiting);
    assert_eq!(peer_state(&r, "node2"), PeerState::Programmed(Via::Direct));
    let gw = c
        .rec
        .kernel
        .k
        .routes
        .iter()
        .find(|r| r.dst.to_string() == "10.100.2.0/24")
        .and_then(|r| r.gw);
    assert_eq!(gw, Some("198.51.100.22".parse().unwrap()));
    let page = r.render();
    assert!(page.contains("last good entry"), "{page}");
    assert!(
        page.contains("skipped:  node1.json: expected value"),
        "{page}"
    );
}
