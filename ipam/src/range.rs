//! Ranges and range sets (host-local's `ranges: [[{subnet, rangeStart, rangeEnd, gateway}]]`).

use std::net::IpAddr;

use ipnet::IpNet;

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
        let _ = (subnet, start, end, gateway);
        todo!("ipam::range::Range::new")
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let _ = ip;
        todo!("ipam::range::Range::contains")
    }
}

/// A range set: one address is allocated per set. Ranges in a set are of one family and do not
/// overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

impl RangeSet {
    pub fn new(ranges: Vec<Range>) -> Result<RangeSet, IpamError> {
        let _ = ranges;
        todo!("ipam::range::RangeSet::new")
    }

    /// Human description used in errors, e.g. "10.42.1.2-10.42.1.254 (10.42.1.0/24)".
    pub fn describe(&self) -> String {
        todo!("ipam::range::RangeSet::describe")
    }
}
