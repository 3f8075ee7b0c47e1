//! The plugin end to end: the built binary, run as a runtime runs it, in namespaces made here.
//! Its refusals (bad input, an exhausted range, an address leased twice) are in
//! plugin/refusals.rs.

mod common;
#[path = "plugin/refusals.rs"]
mod refusals;

use common::*;

const SUBNET: &str = "10.77.0.0/24";

#[test]
fn two_pods_reach_each_other_the_gateway_and_the_node() {
    testkit::require_root!();
    let node = Node::new("ping");
    let conf = node.conf("1.1.0", SUBNET);
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let a1 = node.cni("ADD", "c1", Some(&p1.path), "eth0", &conf);
    assert!(a1.ok, "{} {}", a1.stdout, a1.stderr);
    let a2 = node.cni("ADD", "c2", Some(&p2.path), "eth0", &conf);
    assert!(a2.ok, "{} {}", a2.stdout, a2.stderr);
    let (ip1, ip2) = (first_ip(&a1.stdout), first_ip(&a2.stdout));
    assert_ne!(ip1, ip2);
    assert!(p1.ping(&ip2, 1).unwrap(), "pod1 -> pod2");
    assert!(p2.ping(&ip1, 1).unwrap(), "pod2 -> pod1");
    assert!(p1.ping("10.77.0.1", 1).unwrap(), "pod -> gateway");
    assert!(node.ns.ping(&ip1, 1).unwrap(), "node -> pod");
    // the result names the bridge, the host veth and the pod interface, and the lease is on disk
    let r = lichen::cni::CniResult::parse(a1.stdout.as_bytes()).unwrap();
    assert_eq!(r.interfaces[0].name, "lbr0");
    assert_eq!(r.interfaces[2].name, "eth0");
    assert_eq!(r.interfaces[2].sandbox, p1.path.display().to_string());
    assert_eq!(r.ips[0].interface, Some(2));
    let lease = std::fs::read_to_string(node.lease_dir().join(&ip1)).unwrap();
    assert_eq!(lease, "c1\r\neth0");
    // the pod has its default route via the gateway
    let routes = p1.ip(&["route", "show", "default"]).unwrap();
    assert!(routes.contains("via 10.77.0.1 dev eth0"), "{routes}");
}

/// The spec's attachment key is (network, container ID, ifname): one container ID with `eth0`
/// on two networks is two attachments, and neither ADD nor DEL of one touches the other (the
/// host end's name once hashed only the container ID and ifname, and ADD replaced the other
/// network's host end as a stale one of its own).
#[test]
fn one_container_on_two_networks_keeps_both_attachments() {
    testkit::require_root!();
    let node = Node::new("twonet");
    let a = node.conf("1.0.0", SUBNET);
    let b = a
        .replacen(
            &format!(r#""name":"{}""#, node.network),
            r#""name":"other""#,
            1,
        )
        .replace(r#""bridge":"lbr0""#, r#""bridge":"lbr1""#)
        .replace(SUBNET, "10.78.0.0/24");
    assert_ne!(a, b);
    let (p1, p2) = (node.pod("p1"), node.pod("p2"));
    let add_a = node.cni("ADD", "same", Some(&p1.path), "eth0", &a);
    assert!(add_a.ok, "{} {}", add_a.stdout, add_a.stderr);
    let add_b = node.cni("ADD", "same", Some(&p2.path), "eth0", &b);
    assert!(add_b.ok, "{} {}", add_b.stdout, add_b.stderr);
    assert!(p1.ping("10.77.0.1", 1).unwrap(), "network a still attached");
    assert!(p2.ping("10.78.0.1", 1).unwrap(), "network b attached");
    let del_a = node.cni("DEL", "same", Some(&p1.path), "eth0", &a);
    assert!(del_a.ok, "{} {}", del_a.stdout, del_a.stderr);
    assert!(
        p2.ping("10.78.0.1", 1).unwrap(),
        "network b survives a's DEL"
    );
    let left = p1.ip(&["-o", "link", "show", "eth0"]);
    assert!(
        left.is_err() || left.unwrap().is_empty(),
        "a's pod end is gone"
    );
    let check_b = extend(&b, &format!(r#""prevResult":{}"#, add_b.stdout.trim()));
    let ok = node.cni("CHECK", "same", Some(&p2.path), "eth0", &check_b);
    assert!(ok.ok, "CHECK of b: {} {}", ok.stdout, ok.stderr);
}

#[test]
fn check_passes_then_fails_after_an_address_is_removed() {
    testkit::require_root!();
    let node = Node::new("check");
    let conf = node.conf("1.0.0", SUBNET);
    let pod = node.pod("p");
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf);
    assert!(add.ok, "{}", add.stdout);
    let with_prev = extend(&conf, &format!(r#""prevResult":{}"#, add.stdout.trim()));
    let ok = node.cni("CHECK", "c1", Some(&pod.path), "eth0", &with_prev);
    assert!(
        ok.ok,
        "CHECK on an intact attachment: {} {}",
        ok.stdout, ok.stderr
    );
    let ip = first_ip(&add.stdout);
    pod.ip(&["addr", "del", &format!("{ip}/24"), "dev", "eth0"])
        .unwrap();
    let bad = node.cni("CHECK", "c1", Some(&pod.path), "eth0", &with_prev);
    assert!(!bad.ok);
    assert!(
        bad.stdout.contains(&ip),
        "the error names the missing address: {}",
        bad.stdout
    );
    // CHECK does not exist before 0.4.0
    let old = node.conf("0.3.1", SUBNET);
    let old = extend(&old, &format!(r#""prevResult":{}"#, add.stdout.trim()));
    assert_eq!(
        error_code(&node.cni("CHECK", "c1", Some(&pod.path), "eth0", &old)),
        1
    );
}

#[test]
fn del_is_idempotent_and_releases_when_the_netns_is_gone() {
    testkit::require_root!();
    let node = Node::new("del");
    let conf = node.conf("1.1.0", SUBNET);
    let pod = node.pod("p");
    assert!(node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf).ok);
    let gone = node.pod("gone");
    let path = gone.path.clone();
    assert!(node.cni("ADD", "c2", Some(&gone.path), "eth0", &conf).ok);
    assert_eq!(node.leases().len(), 2);
    let veths_before = node.links().iter().filter(|l| l.starts_with("lic")).count();
    assert_eq!(veths_before, 2);

    for _ in 0..2 {
        let d = node.cni("DEL", "c1", Some(&pod.path), "eth0", &conf);
        assert!(d.ok, "DEL: {} {}", d.stdout, d.stderr);
        assert_eq!(d.stdout, "", "DEL prints nothing on success");
    }
    drop(gone); // the pod's netns disappears, as when a sandbox dies
    let d = node.cni("DEL", "c2", Some(&path), "eth0", &conf);
    assert!(
        d.ok,
        "DEL after the netns is gone: {} {}",
        d.stdout, d.stderr
    );
    let d = node.cni("DEL", "c2", None, "eth0", &conf);
    assert!(d.ok, "DEL without CNI_NETNS: {}", d.stdout);
    assert!(node.leases().is_empty(), "leases left: {:?}", node.leases());
    assert!(
        !node.links().iter().any(|l| l.starts_with("lic")),
        "{:?}",
        node.links()
    );
}

#[test]
fn gc_releases_what_the_runtime_no_longer_knows() {
    testkit::require_root!();
    let node = Node::new("gc");
    let conf = node.conf("1.1.0", SUBNET);
    let pods: Vec<_> = (0..3).map(|i| node.pod(&format!("p{i}"))).collect();
    for (i, p) in pods.iter().enumerate() {
        assert!(
            node.cni("ADD", &format!("c{i}"), Some(&p.path), "eth0", &conf)
                .ok
        );
    }
    assert_eq!(node.leases().len(), 3);
    let gc = extend(
        &conf,
        r#""cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]"#,
    );
    let a = node.cni("GC", "", None, "", &gc);
    assert!(a.ok, "GC: {} {}", a.stdout, a.stderr);
    let left = node.leases();
    assert_eq!(left.len(), 1, "{left:?}");
    let holder = std::fs::read_to_string(node.lease_dir().join(&left[0])).unwrap();
    assert!(holder.starts_with("c1\r\n"), "{holder:?}");
    // GC without the list is refused rather than releasing everything
    assert_eq!(error_code(&node.cni("GC", "", None, "", &conf)), 7);
    assert_eq!(node.leases().len(), 1);
}

#[test]
fn fifty_parallel_adds_get_distinct_addresses_and_parallel_dels_leave_no_lease() {
    testkit::require_root!();
    let node = Node::new("par");
    let conf = node.conf("1.1.0", "10.78.0.0/24");
    let pods: Vec<_> = (0..50).map(|i| node.pod(&format!("p{i}"))).collect();
    let ips: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (node, conf) = (&node, &conf);
                s.spawn(move || node.cni("ADD", &format!("par{i}"), Some(&p.path), "eth0", conf))
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                let a = h.join().unwrap();
                assert!(a.ok, "{} {}", a.stdout, a.stderr);
                first_ip(&a.stdout)
            })
            .collect()
    });
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 50, "duplicate addresses: {ips:?}");
    assert_eq!(node.leases().len(), 50);
    std::thread::scope(|s| {
        for (i, p) in pods.iter().enumerate() {
            let (node, conf) = (&node, &conf);
            s.spawn(move || {
                let d = node.cni("DEL", &format!("par{i}"), Some(&p.path), "eth0", conf);
                assert!(d.ok, "{}", d.stdout);
            });
        }
    });
    assert!(node.leases().is_empty(), "{:?}", node.leases());
}

#[test]
fn every_version_answers_in_its_own_format() {
    testkit::require_root!();
    let node = Node::new("ver");
    for (i, v) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        .iter()
        .enumerate()
    {
        let conf = node.conf(v, SUBNET);
        let pod = node.pod(&format!("v{i}"));
        let a = node.cni("ADD", &format!("v{i}"), Some(&pod.path), "eth0", &conf);
        assert!(a.ok, "{v}: {}", a.stdout);
        assert!(
            a.stdout.contains(&format!(r#""cniVersion":"{v}""#)),
            "{}",
            a.stdout
        );
        let has_version_field = a.stdout.contains(r#""version":"4""#);
        assert_eq!(has_version_field, v.starts_with('0'), "{v}: {}", a.stdout);
        assert!(
            node.cni("DEL", &format!("v{i}"), Some(&pod.path), "eth0", &conf)
                .ok
        );
    }
    let a = node.cni("VERSION", "", None, "", r#"{"cniVersion":"1.0.0"}"#);
    assert!(a.ok);
    assert!(
        a.stdout
            .contains(r#""supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]"#),
        "{}",
        a.stdout
    );
}

#[test]
fn subnet_file_hand_off_status_and_try_again() {
    testkit::require_root!();
    let node = Node::new("sub");
    let subnet_file = node.dir.join("subnet.env");
    let conf = format!(
        r#"{{"cniVersion":"1.1.0","name":"{}","type":"lichen","mode":"bridge","bridge":"lbr0","subnetFile":"{}","ipam":{{"dataDir":"{}"}}}}"#,
        node.network,
        subnet_file.display(),
        node.data_dir().display()
    );
    let pod = node.pod("p");
    assert_eq!(error_code(&node.cni("STATUS", "", None, "", &conf)), 50);
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf);
    assert_eq!(error_code(&add), 11);
    assert!(add.stdout.contains("node agent"), "{}", add.stdout);
    assert!(node.leases().is_empty());
    assert!(!node.links().iter().any(|l| l.starts_with("lic")));

    std::fs::write(&subnet_file, "LICHEN_NETWORK=10.79.0.0/16\nLICHEN_SUBNET=10.79.3.1/24\nLICHEN_MTU=1400\nLICHEN_IPMASQ=true\n").unwrap();
    let st = node.cni("STATUS", "", None, "", &conf);
    assert!(st.ok, "{}", st.stdout);
    let add = node.cni("ADD", "c1", Some(&pod.path), "eth0", &conf);
    assert!(add.ok, "{} {}", add.stdout, add.stderr);
    assert!(
        first_ip(&add.stdout).starts_with("10.79.3."),
        "{}",
        add.stdout
    );
    let link = pod.ip(&["link", "show", "eth0"]).unwrap();
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(pod.ping("10.79.3.1", 1).unwrap());
}

#[test]
fn sigkill_during_add_never_doubles_an_address() {
    testkit::require_root!();
    use std::io::Write;
    use std::process::Stdio;
    let node = Node::new("kill");
    let conf = node.conf("1.1.0", "10.81.0.0/24");
    let pods: Vec<_> = (0..12).map(|i| node.pod(&format!("k{i}"))).collect();
    for (i, p) in pods.iter().enumerate() {
        // kill at increasing moments of the ADD
        let mut c = testkit::binary_command(&node.ns, std::path::Path::new(BIN)).unwrap();
        c.env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", format!("k{i}"))
            .env("CNI_NETNS", &p.path)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", REF_PLUGINS)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(300 * i as u64));
        let _ = child.kill();
        let _ = child.wait();
    }
    // The runtime retries: DEL (cleanup), then ADD again. Each container ends with one address.
    let mut ips = Vec::new();
    for (i, p) in pods.iter().enumerate() {
        let id = format!("k{i}");
        assert!(node.cni("DEL", &id, Some(&p.path), "eth0", &conf).ok);
        let a = node.cni("ADD", &id, Some(&p.path), "eth0", &conf);
        assert!(a.ok, "{id}: {} {}", a.stdout, a.stderr);
        ips.push(first_ip(&a.stdout));
    }
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ips.len(), "{ips:?}");
    assert_eq!(
        node.leases().len(),
        pods.len(),
        "one lease per container: {:?}",
        node.leases()
    );
    for (i, p) in pods.iter().enumerate() {
        assert!(
            node.cni("DEL", &format!("k{i}"), Some(&p.path), "eth0", &conf)
                .ok
        );
    }
    assert!(node.leases().is_empty());
}
