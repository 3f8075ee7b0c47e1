//! The kernel-event monitor in a throwaway namespace: which events its filter lets wake the
//! agent, and the channel `monitor()` feeds.

use lichen_backends::RT_PROTO_LICHEN;

use super::super::watch::Filter;
use super::{converge, node, underlay_node, vxlan, want};
use crate::agent::kernel::Kernel;
use crate::nl::{Event, Monitor};
use testkit::run_ok;

/// Every event the monitor sees until a link named `licmark` appears, each with whether
/// `filter` wakes for it. Runs on a thread: join it once `licmark` is made.
fn collect_events(mon: Monitor, mut filter: Filter) -> std::thread::JoinHandle<Vec<(Event, bool)>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        mon.run(|ev| {
            let end = matches!(&ev, Event::Link { name: Some(n), .. } if n == "licmark");
            let wakes = filter.wakes(&ev);
            seen.push((ev, wakes));
            !end
        })
        .unwrap();
        seen
    })
}

/// Churn on the underlay: a neighbour changing state, then going away.
fn arp_churn() {
    run_ok(
        "ip",
        &[
            "neigh",
            "add",
            "198.51.100.50",
            "lladdr",
            "02:00:00:00:00:50",
            "dev",
            "licu0",
            "nud",
            "reachable",
        ],
    );
    run_ok(
        "ip",
        &[
            "neigh",
            "change",
            "198.51.100.50",
            "dev",
            "licu0",
            "nud",
            "stale",
        ],
    );
    run_ok("ip", &["neigh", "del", "198.51.100.50", "dev", "licu0"]);
}

/// Ours deleted by someone: node2's route, FDB entry (`mac`) and neighbour.
fn delete_ours(mac: &str) {
    run_ok("ip", &["route", "del", "10.100.2.0/24"]);
    run_ok(
        "bridge",
        &["fdb", "del", mac, "dev", "lichen.1", "dst", "198.51.100.2"],
    );
    run_ok("ip", &["neigh", "del", "10.100.2.0", "dev", "lichen.1"]);
}

/// The filter woke for a deletion of our route, of an FDB entry and of a neighbour, and for
/// the new link (the last event).
fn assert_woke_for_ours(seen: &[(Event, bool)]) {
    let woke = |f: &dyn Fn(&Event) -> bool| seen.iter().any(|(ev, w)| *w && f(ev));
    assert!(
        woke(&|ev| matches!(
            ev,
            Event::Route {
                protocol: RT_PROTO_LICHEN,
                deleted: true,
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        woke(&|ev| matches!(
            ev,
            Event::Neigh {
                bridge: true,
                deleted: true,
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(
        woke(&|ev| matches!(
            ev,
            Event::Neigh {
                bridge: false,
                deleted: true,
                ..
            }
        )),
        "{seen:?}"
    );
    assert!(seen.last().unwrap().1, "a new link wakes");
}

/// The filter as the agent primes it: our devices known.
fn primed_filter(k: &mut super::NetlinkKernel) -> Filter {
    let mut filter = Filter::default();
    for d in &k.actual().unwrap().devices {
        filter.wakes(&Event::Link {
            index: d.ifindex,
            name: Some(d.name.clone()),
            deleted: false,
        });
    }
    filter
}

/// The monitor's subscription sees our route and FDB deletions and link changes, and the
/// filter lets them through; ARP churn on the underlay is seen and filtered out.
#[test]
fn monitor_wakes_for_our_deletions_and_not_for_arp_churn() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate every rtnetlink message the agent uses (neighbours, FDB, VXLAN, multicast)") {
        return;
    }
    let (mut k, u) = underlay_node();
    let peers = [node("node2", &["10.100.2.0/24"], "198.51.100.2")];
    let want = want(&u, &peers, &vxlan(false));
    converge(&mut k, &want);
    let fdb = want.fdb[0];
    let mac = lichen_backends::mac_to_string(&fdb.mac);

    let mon = Monitor::open().unwrap();
    let collector = collect_events(mon, primed_filter(&mut k));
    arp_churn();
    delete_ours(&mac);
    run_ok("ip", &["link", "add", "licmark", "type", "bridge"]);
    let seen = collector.join().unwrap();

    let arp: Vec<_> = seen
        .iter()
        .filter(|(ev, _)| matches!(ev, Event::Neigh { index, .. } if *index == u.ifindex))
        .collect();
    assert!(!arp.is_empty(), "underlay neighbour events seen: {seen:?}");
    assert!(arp.iter().all(|(_, wakes)| !wakes), "{arp:?}");
    assert_woke_for_ours(&seen);
}

/// `monitor()` itself: a deleted device reaches the channel.
#[test]
fn monitor_channel_reports_a_deleted_device() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate every rtnetlink message the agent uses (neighbours, FDB, VXLAN, multicast)") {
        return;
    }
    let (mut k, u) = underlay_node();
    let want = want(&u, &[], &vxlan(false));
    converge(&mut k, &want);
    let rx = super::super::monitor().unwrap();
    run_ok("ip", &["link", "del", "lichen.1"]);
    // Bounded only so a broken monitor fails the test instead of hanging it.
    let got = smol::block_on(smol::future::or(async { rx.recv().await.is_ok() }, async {
        smol::Timer::after(std::time::Duration::from_secs(20)).await;
        false
    }));
    assert!(got, "no wake-up for a deleted device");
}
