//! The net-conf's WireGuard keys at work, and both families: `ListenPort`, `MTU` and `PSK`
//! (made by `wg genpsk`) reach the device (wireguard-go's, read back with `wg`), the peers'
//! endpoints and the pods' MTU, and pods talk through it; a dual-stack cluster (IPv4 underlay)
//! carries both families of pod traffic over one `lichen-wg`, each peer with both its subnets
//! as allowed IPs.

use std::process::Command;

use super::*;

#[test]
fn listen_port_mtu_and_psk_from_net_conf_reach_the_device_and_pods_talk() {
    testkit::require_root!();
    if !wireguard_tools() {
        return;
    }
    let out = Command::new("wg").arg("genpsk").output().unwrap();
    let psk = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let backend = format!(r#"{{"Type":"wireguard","ListenPort":51999,"MTU":1380,"PSK":"{psk}"}}"#);
    let Some(mut c) = wg_cluster("wgconf", 2, &backend) else {
        return;
    };
    c.start_agents();
    wait_all_programmed(&c);
    for k in 0..2 {
        let d = c.wg_dump(k).unwrap();
        assert_eq!(d.listen_port, 51999, "{d:?}");
        let peer = d.peer(&annotation(&c, 1 - k, WG_KEY_ANNOTATION)).unwrap();
        let endpoint = format!("{}:51999", c.nodes[1 - k].ip);
        assert_eq!(
            peer.endpoint.as_deref(),
            Some(endpoint.as_str()),
            "{peer:?}"
        );
        assert_eq!(
            peer.preshared_key.as_deref(),
            Some(psk.as_str()),
            "{peer:?}"
        );
        let link = c.nodes[k].ns.ip(&["link", "show", WG_DEVICE]).unwrap();
        assert!(link.contains("mtu 1380 "), "{link}");
        let env = std::fs::read_to_string(c.subnet_file(k)).unwrap();
        assert!(env.contains("LICHEN_MTU=1380"), "the pods' MTU: {env}");
    }
    let pods = pods_everywhere(&c);
    wait_pods_reach(&pods);
    full_mesh(&c, &pods);
}

#[test]
fn a_dual_stack_cluster_carries_both_families_over_one_device() {
    testkit::require_root!();
    if !wireguard_tools() {
        return;
    }
    let mut c = Cluster::with_stack("wgds", 2, WIREGUARD, Stack::Dual);
    c.isolate_mounts();
    c.give_wg_keys();
    c.start_agents();
    wait_all_programmed(&c);
    for k in 0..2 {
        let d = c.wg_dump(k).unwrap();
        let peer = d.peer(&annotation(&c, 1 - k, WG_KEY_ANNOTATION)).unwrap();
        let mut want = c.nodes[1 - k].subnets.clone();
        let mut have = peer.allowed_ips.clone();
        want.sort();
        have.sort();
        assert_eq!(have, want, "both families allowed: {peer:?}");
        let v6 = &c.nodes[1 - k].subnets[1];
        let route = c.route(k, v6);
        assert!(route.contains("dev lichen-wg"), "{v6}: {route}");
    }
    let pods: Vec<Pod> = (0..2)
        .map(|k| c.pod_attached(k, &format!("p{k}")))
        .collect();
    for (a, b) in [(0, 1), (1, 0)] {
        for ip in &pods[b].ips {
            wait_ping(&pods[a].ns, ip, &format!("pod {a} -> pod {b} at {ip}"));
            let (n, seen) = tcp_transfer(&pods[b].ns, ip, &pods[a].ns, 1 << 20);
            let same_family = |x: &&String| x.contains(':') == ip.contains(':');
            let from = pods[a].ips.iter().find(same_family).unwrap();
            assert_eq!((n, &seen), (1 << 20, from), "TCP pod {a} -> {ip}");
        }
    }
}
