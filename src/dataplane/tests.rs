use super::*;
use std::time::Instant;
use testkit::{assert_outside_root, enter_node, pod, run_ok, NamedNs};

const BR: &str = "licbr0";

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn bridge() -> BridgeSpec {
    BridgeSpec {
        name: BR.into(),
        mtu: Some(1450),
        addresses: vec![net("10.42.1.1/24"), net("fd42:1::1/64")],
    }
}

fn pod_spec(pod: &NamedNs, n: u8) -> PodSpec {
    PodSpec {
        netns: pod.path.clone(),
        ifname: "eth0".into(),
        mac: None,
        host_veth: host_veth_name("n", &pod.name, "eth0"),
        mtu: Some(1450),
        hairpin: true,
        addresses: vec![
            net(&format!("10.42.1.{n}/24")),
            net(&format!("fd42:1::{n:x}/64")),
        ],
        routes: vec![
            (net("0.0.0.0/0"), Some("10.42.1.1".parse().unwrap())),
            (net("::/0"), Some("fd42:1::1".parse().unwrap())),
        ],
        onlink: false,
        subnets: Vec::new(),
    }
}

/// Links in the node namespace whose name starts with `lic` (bridge and host ends).
fn node_links() -> Vec<String> {
    let mut nl = Nl::open().unwrap();
    nl.links()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n.starts_with("lic"))
        .collect()
}

#[test]
fn host_veth_names_are_stable_short_and_distinct() {
    let a = host_veth_name("n", "abc", "eth0");
    assert_eq!(a, host_veth_name("n", "abc", "eth0"));
    assert_eq!(a.len(), 15);
    assert!(a.starts_with("lic"));
    assert_ne!(a, host_veth_name("n", "abc", "eth1"));
    assert_ne!(a, host_veth_name("n", "abce", "th0"));
    // the spec's attachment key has the network too
    assert_ne!(a, host_veth_name("m", "abc", "eth0"));
    assert_ne!(a, host_veth_name("nabc", "", "eth0"));
}

/// What attach reports matches the kernel: the bridge, both host ends on it with hairpin,
/// the bridge's addresses, forwarding on.
fn assert_attached_as_reported(att_a: &Attached, att_b: &Attached, specs: &[&PodSpec]) {
    assert_eq!(att_a.bridge.as_ref().unwrap().name, BR);
    assert_eq!(att_a.host_veth.name, specs[0].host_veth);
    assert_eq!(att_a.pod.name, "eth0");
    assert_eq!((att_a.pod.mtu, att_a.host_veth.mtu), (1450, 1450));
    assert_eq!(att_a.pod.mac.len(), 17);
    let mut nl = Nl::open().unwrap();
    let br = nl.link(LinkId::Name(BR)).unwrap().unwrap();
    assert_eq!(att_b.bridge.as_ref().unwrap().mac, br.mac_string());
    assert!(br.up && br.is_kind("bridge") && br.mtu == 1450);
    for s in specs {
        let veth = nl.link(LinkId::Name(&s.host_veth)).unwrap().unwrap();
        assert_eq!(veth.master, Some(br.index));
        assert!(veth.up);
        assert_eq!(veth.mtu, 1450);
        let details = run_ok("ip", &["-d", "-o", "link", "show", "dev", &s.host_veth]);
        assert!(details.contains("hairpin on"), "{details}");
        // one queue each way, said at creation (see nl's `new_link_message`)
        assert!(details.contains("numtxqueues 1 numrxqueues 1"), "{details}");
    }
    let br_addrs = run_ok("ip", &["-o", "addr", "show", "dev", BR]);
    assert!(br_addrs.contains("10.42.1.1/24") && br_addrs.contains("fd42:1::1/64"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        "1\n"
    );
}

/// Inside pod `a` (10.42.1.2): addresses (IPv6 not tentative), routes, link.
fn assert_pod_inside(a: &NamedNs) {
    let addrs = a.ip(&["-o", "addr", "show", "dev", "eth0"]).unwrap();
    assert!(addrs.contains("10.42.1.2/24"), "{addrs}");
    let v6 = addrs.lines().find(|l| l.contains("fd42:1::2/64"));
    assert!(v6.is_some_and(|l| !l.contains("tentative")), "{addrs}");
    let r4 = a.ip(&["-4", "route", "show", "default"]).unwrap();
    assert!(r4.contains("via 10.42.1.1 dev eth0"), "{r4}");
    let r6 = a.ip(&["-6", "route", "show", "default"]).unwrap();
    assert!(r6.contains("via fd42:1::1 dev eth0"), "{r6}");
    let link = a.ip(&["-d", "-o", "link", "show", "dev", "eth0"]).unwrap();
    assert!(
        link.contains("mtu 1450") && link.contains("state UP"),
        "{link}"
    );
    assert!(link.contains("numtxqueues 1 numrxqueues 1"), "{link}");
}

#[test]
fn two_pods_on_one_bridge() {
    testkit::require_root!();
    enter_node();
    let (a, b) = (pod("dp"), pod("dp"));
    let (sa, sb) = (pod_spec(&a, 2), pod_spec(&b, 3));
    let t = Instant::now();
    let att_a = attach(&bridge(), &sa).unwrap();
    let first = t.elapsed();
    let t = Instant::now();
    let att_b = attach(&bridge(), &sb).unwrap();
    eprintln!(
        "attach: first (creates bridge) {first:?}, second {:?}",
        t.elapsed()
    );

    assert_attached_as_reported(&att_a, &att_b, &[&sa, &sb]);
    assert_pod_inside(&a);

    // Traffic: pod to pod both families, pod to the gateway.
    assert!(a.ping("10.42.1.3", 1).unwrap());
    assert!(b.ping("10.42.1.2", 1).unwrap());
    assert!(a.ping("10.42.1.1", 1).unwrap());
    assert!(a.ping("fd42:1::3", 1).unwrap());
    assert!(b.ping("fd42:1::1", 1).unwrap());

    // Bridge state for STATUS/CHECK.
    let (info, addrs) = bridge_state(BR).unwrap().unwrap();
    assert_eq!(info.name, BR);
    assert!(addrs.contains(&net("10.42.1.1/24")) && addrs.contains(&net("fd42:1::1/64")));
    assert!(bridge_state("licnone").unwrap().is_none());
}

#[test]
fn concurrent_attaches_share_one_bridge() {
    testkit::require_root!();
    enter_node();
    let pods: Vec<NamedNs> = (0..6).map(|_| pod("dp")).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let spec = pod_spec(p, 10 + i as u8);
                s.spawn(move || {
                    assert_outside_root();
                    attach(&bridge(), &spec)
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    let links = node_links();
    assert_eq!(links.iter().filter(|n| *n == BR).count(), 1);
    assert_eq!(links.len(), 7, "{links:?}");
    assert!(pods[0].ping("10.42.1.15", 1).unwrap());
    assert!(pods[5].ping("10.42.1.1", 1).unwrap());
}

#[test]
fn existing_ifname_fails_and_creates_nothing() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    p.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "other0",
    ])
    .unwrap();
    let err = attach(&bridge(), &pod_spec(&p, 2)).unwrap_err();
    assert!(
        matches!(err, DpError::IfnameExists(ref n) if n == "eth0"),
        "{err}"
    );
    assert!(node_links().is_empty(), "{:?}", node_links());
    // The pod's own eth0 is untouched.
    assert!(p
        .ip(&["-o", "link", "show", "dev", "eth0"])
        .unwrap()
        .contains("eth0@other0"));
}

/// A spec that fails after the veth exists: a route via a gateway outside every subnet of
/// the pod (ENETUNREACH).
fn failing_spec(p: &NamedNs, n: u8) -> PodSpec {
    let mut spec = pod_spec(p, n);
    spec.routes
        .push((net("10.99.0.0/16"), Some("10.77.0.1".parse().unwrap())));
    spec
}

fn bridge_addrs() -> String {
    run_ok("ip", &["-o", "addr", "show", "dev", BR])
}

#[test]
fn failure_after_veth_rolls_back() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    let err = attach(&bridge(), &failing_spec(&p, 2)).unwrap_err();
    match err {
        DpError::Kernel(_, ref e) => assert_eq!(e.raw_os_error(), Some(libc::ENETUNREACH)),
        ref other => panic!("unexpected {other}"),
    }
    // This ADD created the bridge: it goes too, with its addresses.
    assert!(node_links().is_empty(), "{:?}", node_links());
    assert!(!p.ip(&["-o", "link"]).unwrap().contains("eth0"));
    // The same attachment succeeds afterwards.
    attach(&bridge(), &pod_spec(&p, 2)).unwrap();
    assert!(p.ping("10.42.1.1", 1).unwrap());
}

#[test]
fn failure_removes_only_the_addresses_it_added() {
    testkit::require_root!();
    enter_node();
    // A bridge from before, without ports, holding one of the two gateway addresses.
    run_ok("ip", &["link", "add", BR, "type", "bridge"]);
    run_ok("ip", &["addr", "add", "10.42.1.1/24", "dev", BR]);
    let p = pod("dp");
    attach(&bridge(), &failing_spec(&p, 2)).unwrap_err();
    assert_eq!(node_links(), vec![BR.to_string()]);
    let addrs = bridge_addrs();
    assert!(addrs.contains("10.42.1.1/24"), "{addrs}");
    assert!(!addrs.contains("fd42:1::1/64"), "{addrs}");
}

#[test]
fn failure_keeps_what_other_pods_use() {
    testkit::require_root!();
    enter_node();
    let (a, b) = (pod("dp"), pod("dp"));
    let sa = pod_spec(&a, 2);
    attach(&bridge(), &sa).unwrap();
    // Another network's gateway on the same bridge: the bridge has a port (pod a), so the
    // failed ADD leaves the bridge and its addresses to it.
    let other = BridgeSpec {
        addresses: vec![net("10.43.1.1/24")],
        ..bridge()
    };
    attach(&other, &failing_spec(&b, 3)).unwrap_err();
    let mut want = vec![BR.to_string(), sa.host_veth.clone()];
    want.sort();
    let mut links = node_links();
    links.sort();
    assert_eq!(links, want);
    assert!(bridge_addrs().contains("10.42.1.1/24"));
    assert!(a.ping("10.42.1.1", 1).unwrap());
}

#[test]
fn stale_host_end_is_replaced() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    let spec = pod_spec(&p, 2);
    // A crashed earlier ADD left the host end behind (its peer elsewhere).
    run_ok(
        "ip",
        &[
            "link",
            "add",
            &spec.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            "licstale",
        ],
    );
    attach(&bridge(), &spec).unwrap();
    let links = node_links();
    assert!(!links.contains(&"licstale".to_string()), "{links:?}");
    assert!(p.ping("10.42.1.1", 1).unwrap());
}

#[test]
fn not_a_bridge() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    run_ok(
        "ip",
        &["link", "add", BR, "type", "veth", "peer", "name", "licpeer"],
    );
    let err = attach(&bridge(), &pod_spec(&p, 2)).unwrap_err();
    assert!(matches!(err, DpError::NotABridge(_)), "{err}");
    assert!(matches!(bridge_state(BR), Err(DpError::NotABridge(_))));
    assert_eq!(node_links().len(), 2);
}

#[test]
fn detach_is_idempotent() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    let spec = pod_spec(&p, 2);
    attach(&bridge(), &spec).unwrap();
    detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
    assert_eq!(node_links(), vec![BR.to_string()]);
    assert!(!p.ip(&["-o", "link"]).unwrap().contains("eth0"));
    detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
    detach(None, "eth0", &spec.host_veth).unwrap();

    // The pod's own interface under that name is not ours: left alone.
    p.ip(&["link", "add", "eth0", "type", "bridge"]).unwrap();
    detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
    assert!(p.ip(&["-o", "link"]).unwrap().contains("eth0"));
}

#[test]
fn detach_with_netns_gone() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    let spec = pod_spec(&p, 2);
    attach(&bridge(), &spec).unwrap();
    drop(p);
    detach(Some(&spec.netns), "eth0", &spec.host_veth).unwrap();
    detach(None, "eth0", &spec.host_veth).unwrap();
    assert_eq!(node_links(), vec![BR.to_string()]);
    assert!(matches!(
        inspect(&spec.netns, "eth0"),
        Err(DpError::NetnsMissing(..))
    ));
    let err = attach(&bridge(), &spec).unwrap_err();
    assert!(matches!(err, DpError::NetnsMissing(..)), "{err}");
    assert_eq!(node_links(), vec![BR.to_string()]);
}

#[test]
fn inspect_reports_what_attach_made() {
    testkit::require_root!();
    enter_node();
    let p = pod("dp");
    let spec = pod_spec(&p, 2);
    let att = attach(&bridge(), &spec).unwrap();
    let st = inspect(&spec.netns, "eth0").unwrap();
    assert_eq!(st.link, att.pod);
    assert_eq!(st.addresses, spec.addresses);
    for r in &spec.routes {
        assert!(st.routes.contains(r), "{r:?} not in {:?}", st.routes);
    }
    assert!(st.routes.contains(&(net("10.42.1.0/24"), None)));
    let host = st.host.as_ref().unwrap();
    assert_eq!(host.name, spec.host_veth);
    assert_eq!(host.master.as_deref(), Some(BR));

    p.ip(&["addr", "del", "10.42.1.2/24", "dev", "eth0"])
        .unwrap();
    let st = inspect(&spec.netns, "eth0").unwrap();
    assert_eq!(st.addresses, vec![net("fd42:1::2/64")]);
    assert!(!st.routes.iter().any(|(d, _)| d.addr().is_ipv4()));
    assert!(matches!(
        inspect(&spec.netns, "eth9"),
        Err(DpError::NoSuchInterface(_))
    ));
}
