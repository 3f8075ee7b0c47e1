//! Ranges and range sets (host-local's `ranges: [[{subnet, rangeStart, rangeEnd, gateway}]]`).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::ipmath::{from_u128, same_family, to_u128};
use crate::IpamError;

/// One validated range: `start..=end` inside `subnet`, with a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub subnet: IpNet,
    pub start: IpAddr,
    pub end: IpAddr,
    pub gateway: Option<IpAddr>,
}

impl Range {
    /// host-local's defaults: start = network + 1 (v4: +1, so .1 ... but the gateway is skipped
    /// when allocating), end = broadcast − 1 for IPv4 (last address for IPv6), gateway = network + 1.
    /// Errors when start/end/gateway lie outside the subnet or start > end.
    pub fn new(
        subnet: IpNet,
        start: Option<IpAddr>,
        end: Option<IpAddr>,
        gateway: Option<IpAddr>,
    ) -> Result<Range, IpamError> {
        check_subnet(subnet)?;
        let network = subnet.network();
        let first = from_u128(network, to_u128(network) + 1);
        let broadcast = to_u128(subnet.broadcast());
        let last = from_u128(network, broadcast - u128::from(network.is_ipv4()));
        for (what, ip) in [
            ("rangeStart", start),
            ("rangeEnd", end),
            ("gateway", gateway),
        ] {
            if let Some(ip) = ip {
                if !subnet.contains(&ip) {
                    return Err(IpamError::InvalidRange(format!(
                        "{what} {ip} is not in subnet {subnet}"
                    )));
                }
            }
        }
        let start = start.unwrap_or(first);
        let end = end.unwrap_or(last);
        if to_u128(start) > to_u128(end) {
            return Err(IpamError::InvalidRange(format!(
                "rangeStart {start} is after rangeEnd {end} in {subnet}"
            )));
        }
        Ok(Range {
            subnet,
            start,
            end,
            gateway: Some(gateway.unwrap_or(first)),
        })
    }

    /// Is `ip` inside `start..=end`?
    pub fn contains(&self, ip: IpAddr) -> bool {
        same_family(ip, self.start)
            && to_u128(self.start) <= to_u128(ip)
            && to_u128(ip) <= to_u128(self.end)
    }

    /// How many addresses `start..=end` holds (the gateway included).
    pub fn size(&self) -> u128 {
        (to_u128(self.end) - to_u128(self.start)).saturating_add(1)
    }

    /// "start-end (subnet)".
    pub fn describe(&self) -> String {
        format!("{}-{} ({})", self.start, self.end, self.subnet)
    }

    fn overlaps(&self, other: &Range) -> bool {
        same_family(self.start, other.start)
            && to_u128(self.start) <= to_u128(other.end)
            && to_u128(other.start) <= to_u128(self.end)
    }
}

/// host-local refuses subnets without room for a gateway and one address (/31, /32, /127,
/// /128). IPv4-mapped IPv6 subnets are refused too: host-local would name their lease files as
/// IPv4 addresses, so the two could not agree on a file name.
fn check_subnet(subnet: IpNet) -> Result<(), IpamError> {
    if subnet.prefix_len() + 2 > subnet.max_prefix_len() {
        return Err(IpamError::InvalidRange(format!(
            "network {subnet} is too small to allocate from"
        )));
    }
    if let IpNet::V6(v6) = subnet {
        if v6.network().to_ipv4_mapped().is_some() || v6.broadcast().to_ipv4_mapped().is_some() {
            return Err(IpamError::InvalidRange(format!(
                "IPv4-mapped IPv6 subnet {subnet} is not supported"
            )));
        }
    }
    Ok(())
}

/// A range set: one address is allocated per set. Ranges in a set are of one family and do not
/// overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

impl RangeSet {
    pub fn new(ranges: Vec<Range>) -> Result<RangeSet, IpamError> {
        let Some(first) = ranges.first() else {
            return Err(IpamError::InvalidRange("empty range set".into()));
        };
        if let Some(r) = ranges.iter().find(|r| !same_family(r.start, first.start)) {
            return Err(IpamError::InvalidRange(format!(
                "mixed address families in one range set: {} and {}",
                first.subnet, r.subnet
            )));
        }
        for (i, a) in ranges.iter().enumerate() {
            if let Some(b) = ranges[i + 1..].iter().find(|b| a.overlaps(b)) {
                return Err(IpamError::InvalidRange(format!(
                    "ranges {} and {} overlap",
                    a.describe(),
                    b.describe()
                )));
            }
        }
        Ok(RangeSet(ranges))
    }

    /// Human description used in errors, e.g. "10.42.1.2-10.42.1.254 (10.42.1.0/24)".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(Range::describe).collect();
        parts.join(", ")
    }

    /// The range holding `ip`, if any.
    pub fn range_for(&self, ip: IpAddr) -> Option<&Range> {
        self.0.iter().find(|r| r.contains(ip))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    /// Every address of the set, once each, in host-local's round-robin order: starting right
    /// after `cursor` (when it lies in the set; otherwise at the first range's start), wrapping
    /// from one range's end to the next range's start and from the last range to the first.
    /// `cursor` itself comes last. Gateways are included: the caller skips them.
    pub fn round_robin(&self, cursor: Option<IpAddr>) -> RoundRobin<'_> {
        let last = self.0.len() - 1;
        let inside = cursor.and_then(|c| Some((self.0.iter().position(|r| r.contains(c))?, c)));
        let (idx, cur) = match inside {
            Some((i, c)) => (i, to_u128(c)),
            None => (last, to_u128(self.0[last].end)),
        };
        RoundRobin {
            set: self,
            idx,
            cur,
            left: self
                .0
                .iter()
                .map(Range::size)
                .fold(0u128, u128::saturating_add),
        }
    }
}

/// The iterator of [`RangeSet::round_robin`]: yields each address with its range.
pub struct RoundRobin<'a> {
    set: &'a RangeSet,
    idx: usize,
    cur: u128,
    left: u128,
}

impl<'a> Iterator for RoundRobin<'a> {
    type Item = (IpAddr, &'a Range);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let ranges = &self.set.0;
        if self.cur == to_u128(ranges[self.idx].end) {
            self.idx = (self.idx + 1) % ranges.len();
            self.cur = to_u128(ranges[self.idx].start);
        } else {
            self.cur += 1;
        }
        let range = &ranges[self.idx];
        Some((from_u128(range.start, self.cur), range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(subnet: &str, start: Option<&str>, end: Option<&str>) -> Range {
        Range::new(subnet.parse().unwrap(), start.map(ip), end.map(ip), None).unwrap()
    }

    #[test]
    fn defaults_follow_host_local() {
        let r = range("10.42.1.0/24", None, None);
        assert_eq!(
            (r.start, r.end, r.gateway),
            (ip("10.42.1.1"), ip("10.42.1.254"), Some(ip("10.42.1.1")))
        );
        let r = range("fd00::/120", None, None);
        assert_eq!((r.start, r.end), (ip("fd00::1"), ip("fd00::ff")));
        assert_eq!(r.describe(), "fd00::1-fd00::ff (fd00::/120)");
        // Host bits in the subnet do not move the defaults.
        let r = range("10.42.1.7/24", None, None);
        assert_eq!(r.start, ip("10.42.1.1"));
    }

    #[test]
    fn rejects_bad_ranges() {
        let net: IpNet = "10.0.0.0/24".parse().unwrap();
        for (s, e, g) in [
            (Some("10.0.1.1"), None, None),
            (None, Some("10.0.1.1"), None),
            (None, None, Some("10.0.1.1")),
            (Some("10.0.0.9"), Some("10.0.0.8"), None),
            (Some("fd00::1"), None, None),
        ] {
            let r = Range::new(net, s.map(ip), e.map(ip), g.map(ip));
            assert!(
                matches!(r, Err(IpamError::InvalidRange(_))),
                "{s:?} {e:?} {g:?}"
            );
        }
        for small in [
            "10.0.0.0/31",
            "10.0.0.0/32",
            "fd00::/127",
            "::ffff:10.0.0.0/120",
        ] {
            let r = Range::new(small.parse().unwrap(), None, None, None);
            assert!(matches!(r, Err(IpamError::InvalidRange(_))), "{small}");
        }
    }

    #[test]
    fn sets_reject_overlap_mixed_and_empty() {
        let a = range("10.0.0.0/24", None, None);
        let b = range("10.0.0.0/24", Some("10.0.0.200"), None);
        let c = range("fd00::/120", None, None);
        assert!(RangeSet::new(vec![]).is_err());
        assert!(RangeSet::new(vec![a.clone(), b]).is_err());
        assert!(RangeSet::new(vec![a.clone(), c]).is_err());
        let d = range("10.0.1.0/24", None, None);
        let set = RangeSet::new(vec![a, d]).unwrap();
        assert_eq!(
            set.describe(),
            "10.0.0.1-10.0.0.254 (10.0.0.0/24), 10.0.1.1-10.0.1.254 (10.0.1.0/24)"
        );
    }

    #[test]
    fn round_robin_wraps_across_ranges_and_ends_on_the_cursor() {
        let a = range("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.11"));
        let b = range("10.0.1.0/24", Some("10.0.1.5"), Some("10.0.1.6"));
        let set = RangeSet::new(vec![a, b]).unwrap();
        let order = |c: Option<&str>| -> Vec<String> {
            set.round_robin(c.map(ip))
                .map(|(a, _)| a.to_string())
                .collect()
        };
        assert_eq!(
            order(None),
            ["10.0.0.10", "10.0.0.11", "10.0.1.5", "10.0.1.6"]
        );
        assert_eq!(
            order(Some("10.0.1.5")),
            ["10.0.1.6", "10.0.0.10", "10.0.0.11", "10.0.1.5"]
        );
        // A cursor outside the set (the config changed) restarts at the beginning.
        assert_eq!(order(Some("10.9.9.9"))[0], "10.0.0.10");
    }
}
