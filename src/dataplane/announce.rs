//! Announcing a pod's addresses once it is attached: a gratuitous ARP for each IPv4 address and
//! an unsolicited Neighbor Advertisement for each IPv6 one, sent from the pod's interface, so
//! that a neighbour still holding an old MAC for the address (the node, another pod: a
//! container re-attached by podman's `network reload`, a recycled address) replaces it at once.
//!
//! Design notes:
//! - What is sent follows the reference bridge plugin before it switched to the `arp_notify`
//!   sysctl (containernetworking/plugins 5d073d69 removed `arping.GratuitousArpOverIface`): one
//!   broadcast ARP *request* per IPv4 address with sender = target = the address (RFC 5227's
//!   announcement, target hardware address zero as the kernel's own `arp_notify` sends it). The
//!   kernel takes a request whose sender IP equals its target IP as gratuitous (`arp_is_garp`)
//!   and overrides an existing entry with it. For IPv6, RFC 4861 §7.2.6: to all-nodes
//!   (ff02::1), hop limit 255, Override set, Solicited clear, the target link-layer address
//!   option carrying the MAC.
//! - When: last in ADD, after the host end's lookup. The bridge drops frames from a port whose
//!   carrier event the kernel has not processed yet (link-watch runs it asynchronously); on
//!   the kernels measured here (6.18) RTM_GETLINK on the host end processes it first, so the
//!   port forwards by the time the pod sends. On kernels whose RTM_GETLINK does not do that,
//!   the announcement may be lost right after a DEL (best effort, like the kernel's own
//!   `arp_notify`, which fires even earlier, at link up).
//! - One `AF_PACKET` datagram socket, opened inside the pod's namespace together with ADD's
//!   netlink socket (no extra namespace switch) with protocol 0, so it never receives. Sending
//!   needs no netlink round trip and no wait; a failure is logged and never fails the ADD.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ipnet::IpNet;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const BROADCAST: [u8; 6] = [0xff; 6];
/// ff02::1 on Ethernet (RFC 2464 §7).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A packet socket in the pod's namespace.
pub struct Announcer(OwnedFd);

impl Announcer {
    /// Opens the socket in the calling thread's namespace.
    pub fn open() -> io::Result<Announcer> {
        // SAFETY: plain syscall; the fd is owned at once.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(Announcer(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Announces every address (IPv6 link-local ones excepted) on interface `index` with
    /// hardware address `mac`. Best effort: failures are logged, never returned.
    pub fn announce(&self, index: u32, mac: &[u8], addresses: &[IpNet]) {
        let Ok(mac) = <[u8; 6]>::try_from(mac) else {
            log::debug!("no gratuitous ARP/NA: interface {index} has no Ethernet address");
            return;
        };
        for net in addresses {
            let sent = match net.addr() {
                IpAddr::V4(ip) => {
                    self.send(index, ETH_P_ARP, BROADCAST, &arp_announcement(mac, ip))
                }
                IpAddr::V6(ip) if ip.segments()[0] & 0xffc0 == 0xfe80 => continue,
                IpAddr::V6(ip) => {
                    self.send(index, ETH_P_IPV6, ALL_NODES_MAC, &unsolicited_na(mac, ip))
                }
            };
            match sent {
                Ok(()) => log::debug!("announced {} at {}", net.addr(), mac_text(mac)),
                Err(e) => log::warn!("cannot announce {} (gratuitous ARP/NA): {e}", net.addr()),
            }
        }
    }

    fn send(&self, index: u32, proto: u16, dst: [u8; 6], payload: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto.to_be();
        sa.sll_ifindex = index as i32;
        sa.sll_halen = 6;
        sa.sll_addr[..6].copy_from_slice(&dst);
        // SAFETY: the buffer and the address outlive the call; lengths are theirs.
        let n = unsafe {
            libc::sendto(
                self.0.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// An ARP request announcing `ip` at `mac` (RFC 5227 §2.3): sender and target IP both `ip`.
pub fn arp_announcement(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&ip.octets());
    // target hardware address stays zero
    p[24..28].copy_from_slice(&ip.octets());
    p
}

/// An IPv6 packet with an unsolicited Neighbor Advertisement for `ip` at `mac`, to all-nodes.
pub fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 72] {
    const ICMP_LEN: usize = 32;
    let mut p = [0u8; 40 + ICMP_LEN];
    p[0] = 0x60; // version 6
    p[4..6].copy_from_slice(&(ICMP_LEN as u16).to_be_bytes());
    p[6] = 58; // ICMPv6
    p[7] = 255; // hop limit: receivers drop ND packets with any other
    p[8..24].copy_from_slice(&ip.octets());
    p[24..40].copy_from_slice(&ALL_NODES.octets());
    let icmp = &mut p[40..];
    icmp[0] = 136; // Neighbor Advertisement
    icmp[4] = 0x20; // Override; not Router, not Solicited
    icmp[8..24].copy_from_slice(&ip.octets());
    icmp[24] = 2; // target link-layer address option
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(ip, ALL_NODES, &p[40..]);
    p[42..44].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and `icmp` (checksum field 0).
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40 + icmp.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(icmp);
    let mut sum: u32 = pseudo
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn mac_text(mac: [u8; 6]) -> String {
    crate::cni::Mac(mac).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];

    #[test]
    fn arp_announcement_layout() {
        let p = arp_announcement(MAC, Ipv4Addr::new(10, 42, 1, 7));
        assert_eq!(&p[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&p[8..14], &MAC);
        assert_eq!(&p[14..18], &[10, 42, 1, 7]);
        assert_eq!(&p[18..24], &[0; 6]);
        assert_eq!(&p[24..28], &[10, 42, 1, 7]);
    }

    #[test]
    fn na_layout_and_checksum() {
        let ip: Ipv6Addr = "fd42:1::7".parse().unwrap();
        let p = unsolicited_na(MAC, ip);
        assert_eq!((p[0], p[6], p[7]), (0x60, 58, 255));
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 32);
        assert_eq!(&p[24..40], &ALL_NODES.octets());
        assert_eq!((p[40], p[41], p[44]), (136, 0, 0x20));
        assert_eq!(&p[48..64], &ip.octets());
        assert_eq!(&p[64..66], &[2, 1]);
        assert_eq!(&p[66..72], &MAC);
        // A correct checksum makes the one's-complement sum over pseudo-header and message
        // come out as 0xffff, i.e. recomputing over the filled-in message gives 0.
        assert_eq!(icmpv6_checksum(ip, ALL_NODES, &p[40..]), 0);
        assert_ne!(u16::from_be_bytes([p[42], p[43]]), 0);
    }
}
