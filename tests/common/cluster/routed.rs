//! Nodes off the cluster's LAN, behind a router namespace on a second L3 segment
//! (203.0.113.0/24, 2001:db8:203::/64; the router is .1 / ::1 on both segments): routed
//! ([`Cluster::add_routed_node`]: the LAN nodes get underlay routes to it via the router) or
//! behind a NAT ([`Cluster::add_natted_node`]: the router masquerades the node's traffic onto
//! the LAN and nothing on the LAN can reach the node first).

use super::*;

impl Cluster {
    /// Adds a node on a second L3 segment behind a router namespace, in the cluster's families
    /// (203.0.113.0/24, 2001:db8:203::/64; the router is .1 / ::1 on both segments); the LAN
    /// nodes get underlay routes to it via the router, as a routed network would give them.
    pub fn add_routed_node(&mut self, i: usize) -> usize {
        let router = NamedNs::create(&testkit::unique_name("lc", "router")).unwrap();
        let families = self.stack.families();
        if self.stack.has_v6() {
            no_dad(&router);
        }
        self.lan.attach(&router, "lan", "", "rt").unwrap();
        let name = format!("node{i}");
        let ns = NamedNs::create(&testkit::unique_name("lc", &name)).unwrap();
        if self.stack.has_v6() {
            no_dad(&ns);
        }
        testkit::veth(&ns, "eth0", "", &router, "far", "").unwrap();
        let mut ips = Vec::new();
        for &v6 in families {
            let r = RoutedSegment::of(v6);
            router
                .add_addr("lan", &format!("{}{}", r.lan_gw, r.lan_len))
                .unwrap();
            router
                .add_addr("far", &format!("{}1{}", r.far, r.far_len))
                .unwrap();
            let forward = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"][v6 as usize];
            router.exec("sysctl", &["-qw", forward]).unwrap();
            let ip = format!("{}{}", r.far, 10 + i);
            ns.add_addr("eth0", &format!("{ip}{}", r.far_len)).unwrap();
            ns.ip(&["route", "add", "default", "via", &format!("{}1", r.far)])
                .unwrap();
            for n in &self.nodes {
                let net = format!("{}0{}", r.far, r.far_len);
                n.ns.ip(&["route", "add", &net, "via", r.lan_gw]).unwrap();
            }
            ips.push(ip);
        }
        self.router = Some(router);
        self.push_node(i, name, ns, ips);
        let k = self.nodes.len() - 1;
        self.publish(k);
        k
    }

    /// Adds IPv4 node `i` at 203.0.113.<10+i> behind a router namespace that masquerades its
    /// traffic to the LAN (as 198.51.100.1, nftables `masquerade`); the LAN nodes get no route
    /// to 203.0.113.0/24, so only connections the node opens reach it (its Node's InternalIP is
    /// the private address, as a node behind a NAT reports it).
    pub fn add_natted_node(&mut self, i: usize) -> usize {
        assert_eq!(self.stack, Stack::V4, "the NAT router is IPv4 only");
        let router = NamedNs::create(&testkit::unique_name("lc", "nat")).unwrap();
        self.lan
            .attach(&router, "lan", "198.51.100.1/24", "rt")
            .unwrap();
        let name = format!("node{i}");
        let ns = NamedNs::create(&testkit::unique_name("lc", &name)).unwrap();
        let ip = format!("203.0.113.{}", 10 + i);
        testkit::veth(
            &ns,
            "eth0",
            &format!("{ip}/24"),
            &router,
            "far",
            "203.0.113.1/24",
        )
        .unwrap();
        ns.ip(&["route", "add", "default", "via", "203.0.113.1"])
            .unwrap();
        router
            .exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
            .unwrap();
        for rule in [
            "add table ip nat",
            "add chain ip nat post { type nat hook postrouting priority srcnat ; }",
            "add rule ip nat post oifname lan masquerade",
        ] {
            let out = router.exec("nft", &[rule]).unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "nft {rule}: {err}");
        }
        self.router = Some(router);
        self.push_node(i, name, ns, vec![ip]);
        let k = self.nodes.len() - 1;
        self.publish(k);
        k
    }
}

/// The routed segment of [`Cluster::add_routed_node`] in one family: the router's LAN address,
/// and the far segment's prefix text (the host number is appended) and length.
struct RoutedSegment {
    lan_gw: &'static str,
    lan_len: &'static str,
    far: &'static str,
    far_len: &'static str,
}

impl RoutedSegment {
    fn of(v6: bool) -> RoutedSegment {
        match v6 {
            false => RoutedSegment {
                lan_gw: "198.51.100.1",
                lan_len: "/24",
                far: "203.0.113.",
                far_len: "/24",
            },
            true => RoutedSegment {
                lan_gw: "2001:db8:100::1",
                lan_len: "/64",
                far: "2001:db8:203::",
                far_len: "/64",
            },
        }
    }
}
