//! Announcing a pod's addresses once it is attached: a gratuitous ARP for each IPv4 address and
//! an unsolicited Neighbor Advertisement for each IPv6 one, sent from the pod's interface, so
//! that a neighbour still holding an old MAC for the address (the node, another pod: a
//! container re-attached by podman's `network reload`, a recycled address) replaces it at once.
//!
//! Design notes:
//! - The kernel sends them. With the pod interface's `arp_notify` (IPv4) and `ndisc_notify`
//!   (IPv6) sysctls on, a change of its hardware address (`NETDEV_CHANGEADDR`) makes it send a
//!   broadcast ARP request with sender = target = the address for each IPv4 address (Linux
//!   net/ipv4/devinet.c, `inetdev_event` → `inetdev_send_gratuitous_arp`; RFC 5227's
//!   announcement, which receivers take as gratuitous, `arp_is_garp`, and let override an
//!   existing entry) and an NA to all-nodes with Override set for each IPv6 address
//!   (net/ipv6/ndisc.c, `ndisc_netdev_event` → `ndisc_send_unsol_na`). Setting the MAC the
//!   interface already has is such a change (checked on 6.18 with tcpdump, and by
//!   tests/mac.rs). The reference bridge plugin also leaves this to `arp_notify`
//!   (containernetworking/plugins 5d073d69), set before the link comes up.
//! - Why not a packet socket of our own (what this module did first): closing an `AF_PACKET`
//!   socket always waits for an RCU grace period (net/packet/af_packet.c, `packet_release` →
//!   `synchronize_net`), measured at 6–20 ms, most of an ADD. The sysctl writes and one
//!   RTM_NEWLINK cost well under a millisecond.
//! - When: last in ADD, after the host end's lookup. The bridge drops frames from a port whose
//!   carrier event the kernel has not processed yet (link-watch runs it asynchronously); on the
//!   kernels measured here (6.18) RTM_GETLINK on the host end processes it first, so the port
//!   forwards by the time the pod sends. That is why this does not rely on `arp_notify` at
//!   link up, as the reference does: that announcement goes out before the port forwards.
//!   On kernels whose RTM_GETLINK does not do that, the announcement may be lost right after
//!   a DEL (best effort, like the kernel's own `arp_notify`).
//! - The sysctls belong to the pod's interface and go with it; nothing else in the pod changes.
//!   Failures are logged and never fail the ADD.

use ipnet::IpNet;

use crate::netns::NetNs;
use crate::nl::{Link, LinkChange, LinkId, Nl};

/// Has the kernel announce every address of `link` (the pod's interface, seen through
/// `pod_nl`, a netlink socket in the pod namespace `ns`). Best effort: failures are logged.
pub fn announce(ns: &NetNs, pod_nl: &mut Nl, link: &Link, addresses: &[IpNet]) {
    let Ok(mac) = <[u8; 6]>::try_from(link.mac.as_slice()) else {
        log::debug!(
            "no gratuitous ARP/NA: {} has no Ethernet address",
            link.name
        );
        return;
    };
    let v4 = addresses.iter().any(|a| a.addr().is_ipv4());
    let v6 = addresses.iter().any(|a| match a {
        IpNet::V6(n) => n.addr().segments()[0] & 0xffc0 != 0xfe80,
        IpNet::V4(_) => false,
    });
    if !v4 && !v6 {
        return;
    }
    // Each family on its own: one that cannot be turned on must not silence the other.
    let on = ns
        .run(|| Ok(notify_on(&link.name, v4, v6)))
        .unwrap_or_else(|e| {
            log::warn!("no gratuitous ARP/NA for {}: enter the pod: {e}", link.name);
            false
        });
    if !on {
        return;
    }
    let change = LinkChange {
        mac: Some(mac),
        ..LinkChange::default()
    };
    match pod_nl.set_link(LinkId::Index(link.index), &change) {
        Ok(()) => log::debug!("announced {addresses:?} on {}", link.name),
        Err(e) => log::warn!("no gratuitous ARP/NA for {}: set its MAC: {e}", link.name),
    }
}

/// Turns on `arp_notify` / `ndisc_notify` for interface `ifname` of the calling thread's
/// namespace, each family that has addresses; true if any is on (failures are logged).
fn notify_on(ifname: &str, v4: bool, v6: bool) -> bool {
    let files = [
        (v4, format!("/proc/sys/net/ipv4/conf/{ifname}/arp_notify")),
        (v6, format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify")),
    ];
    let mut any = false;
    for (_, f) in files.iter().filter(|(wanted, _)| *wanted) {
        match std::fs::write(f, "1") {
            Ok(()) => any = true,
            Err(e) => log::warn!("no gratuitous ARP/NA through {f}: {e}"),
        }
    }
    any
}
