//! Address and port range arithmetic for interval sets: CIDR minus holes, normalisation.
//!
//! nftables interval sets reject overlapping elements, so every set is normalised here: sorted,
//! with overlapping or adjacent ranges merged (never across address families or protocols).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::ruleset::{AddrPort, AddrRange, PortRange};

/// An address as (is IPv6, value), so that ranges can be compared and stepped.
fn num(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    }
}

fn addr(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

/// One address as a range.
pub fn single(a: IpAddr) -> AddrRange {
    AddrRange { first: a, last: a }
}

pub fn cidr(net: &IpNet) -> AddrRange {
    AddrRange {
        first: net.network(),
        last: net.broadcast(),
    }
}

/// `net` without the `holes` (which lie inside it).
pub fn cidr_except(net: &IpNet, holes: &[IpNet]) -> Vec<AddrRange> {
    let (v6, first) = num(net.network());
    let last = num(net.broadcast()).1;
    let mut holes: Vec<(u128, u128)> = holes
        .iter()
        .map(|h| (num(h.network()).1, num(h.broadcast()).1))
        .collect();
    holes.sort();
    let mut out = Vec::new();
    let mut next = Some(first);
    for (hf, hl) in holes {
        let Some(start) = next else { break };
        if hf > start {
            out.push(AddrRange {
                first: addr(v6, start),
                last: addr(v6, hf - 1),
            });
        }
        if hl >= start {
            next = hl.checked_add(1).filter(|&n| n <= last);
        }
    }
    if let Some(start) = next {
        out.push(AddrRange {
            first: addr(v6, start),
            last: addr(v6, last),
        });
    }
    out
}

/// Sorts and merges overlapping or adjacent ranges of the same family.
pub fn normalize_addrs(ranges: Vec<AddrRange>) -> Vec<AddrRange> {
    let mut spans: Vec<(bool, u128, u128)> = ranges
        .into_iter()
        .map(|r| {
            let (v6, f) = num(r.first);
            (v6, f, num(r.last).1)
        })
        .collect();
    spans.sort();
    let mut out: Vec<(bool, u128, u128)> = Vec::new();
    for (v6, f, l) in spans {
        match out.last_mut() {
            Some(p) if p.0 == v6 && f <= p.2.saturating_add(1) => p.2 = p.2.max(l),
            _ => out.push((v6, f, l)),
        }
    }
    out.into_iter()
        .map(|(v6, f, l)| AddrRange {
            first: addr(v6, f),
            last: addr(v6, l),
        })
        .collect()
}

/// Sorts and merges overlapping or adjacent port ranges of the same protocol.
pub fn normalize_ports(mut ranges: Vec<PortRange>) -> Vec<PortRange> {
    ranges.sort();
    let mut out: Vec<PortRange> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(p) if p.protocol == r.protocol && u32::from(r.first) <= u32::from(p.last) + 1 => {
                p.last = p.last.max(r.last)
            }
            _ => out.push(r),
        }
    }
    out
}

pub fn normalize_addr_ports(mut elems: Vec<AddrPort>) -> Vec<AddrPort> {
    elems.sort();
    elems.dedup();
    elems
}

/// Whether `a` lies in one of `ranges`.
pub fn contains(ranges: &[AddrRange], a: IpAddr) -> bool {
    let (v6, n) = num(a);
    ranges.iter().any(|r| {
        let (rv6, f) = num(r.first);
        rv6 == v6 && f <= n && n <= num(r.last).1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: &str, last: &str) -> AddrRange {
        AddrRange {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_minus_holes() {
        assert_eq!(
            cidr_except(&net("10.0.0.0/24"), &[net("10.0.0.128/25")]),
            [r("10.0.0.0", "10.0.0.127")]
        );
        assert_eq!(
            cidr_except(
                &net("10.0.0.0/24"),
                &[
                    net("10.0.0.64/26"),
                    net("10.0.0.16/28"),
                    net("10.0.0.20/30")
                ]
            ),
            [
                r("10.0.0.0", "10.0.0.15"),
                r("10.0.0.32", "10.0.0.63"),
                r("10.0.0.128", "10.0.0.255")
            ]
        );
        assert_eq!(cidr_except(&net("10.0.0.0/24"), &[net("10.0.0.0/24")]), []);
        assert_eq!(
            cidr_except(&net("0.0.0.0/0"), &[net("10.0.0.0/8")]),
            [
                r("0.0.0.0", "9.255.255.255"),
                r("11.0.0.0", "255.255.255.255")
            ]
        );
        assert_eq!(
            cidr_except(&net("::/0"), &[net("fd00::/8")]),
            [
                r("::", "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                r("fe00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
            ]
        );
    }

    #[test]
    fn normalisation_merges_within_a_family() {
        let got = normalize_addrs(vec![
            r("10.0.0.5", "10.0.0.5"),
            r("::1", "::1"),
            r("10.0.0.0", "10.0.0.4"),
            r("10.0.0.9", "10.0.0.20"),
            r("10.0.0.10", "10.0.0.12"),
            r("10.0.0.5", "10.0.0.5"),
        ]);
        assert_eq!(
            got,
            [
                r("10.0.0.0", "10.0.0.5"),
                r("10.0.0.9", "10.0.0.20"),
                r("::1", "::1")
            ]
        );
        assert!(contains(&got, "10.0.0.3".parse().unwrap()));
        assert!(!contains(&got, "10.0.0.7".parse().unwrap()));
        assert!(!contains(&got, "::2".parse().unwrap()));
    }

    #[test]
    fn port_ranges_merge_per_protocol() {
        use lichen_kube::k8s::Protocol::*;
        let p = |protocol, first, last| PortRange {
            protocol,
            first,
            last,
        };
        assert_eq!(
            normalize_ports(vec![
                p(Udp, 53, 53),
                p(Tcp, 80, 90),
                p(Tcp, 91, 95),
                p(Tcp, 53, 53),
                p(Tcp, 0, 65535)
            ]),
            [p(Tcp, 0, 65535), p(Udp, 53, 53)]
        );
    }
}
