//! The `ipam` section: host-local's schema (range sets, legacy single range, routes, dataDir),
//! validated so the allocator only ever sees consistent ranges.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use super::{absolute_path, bad, missing};
use crate::cni::json::{Object, Text};
use crate::cni::{CniError, IpamConf, RangeConf, RouteConf};

#[derive(Deserialize)]
struct RawRange {
    subnet: Option<Text>,
    #[serde(rename = "rangeStart")]
    range_start: Option<Text>,
    #[serde(rename = "rangeEnd")]
    range_end: Option<Text>,
    gateway: Option<Text>,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: Option<Text>,
    gw: Option<Text>,
}

pub(super) fn parse(o: &Object<'_>) -> Result<IpamConf, CniError> {
    let mut sets = Vec::new();
    let mut names = Vec::new();
    // host-local's legacy single range becomes the first set, before `ranges`.
    if let Some(legacy) = legacy_range(o)? {
        sets.push(vec![legacy]);
        names.push(vec![o.path_of("subnet")]);
    }
    for (set, set_names) in range_sets(o)? {
        names.push(set_names);
        sets.push(set);
    }
    let named: Vec<(String, &RangeConf)> = names
        .into_iter()
        .flatten()
        .zip(sets.iter().flatten())
        .collect();
    check_overlaps(&named)?;
    let routes = o
        .get::<Vec<RawRoute>>("routes", "a list of {\"dst\", \"gw\"} objects")?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| route(&o.path_of(&format!("routes[{i}]")), r))
        .collect::<Result<_, _>>()?;
    let data_dir = o
        .text("dataDir")?
        .map(|d| absolute_path(&o.path_of("dataDir"), d))
        .transpose()?;
    Ok(IpamConf {
        kind: o.text("type")?,
        ranges: sets,
        routes,
        data_dir,
    })
}

/// host-local's legacy single range (`subnet`, `rangeStart`, `rangeEnd`, `gateway` right in
/// the `ipam` section), if given.
fn legacy_range(o: &Object<'_>) -> Result<Option<RangeConf>, CniError> {
    let legacy = RawRange {
        subnet: o.get("subnet", "a string")?,
        range_start: o.get("rangeStart", "a string")?,
        range_end: o.get("rangeEnd", "a string")?,
        gateway: o.get("gateway", "a string")?,
    };
    if legacy.subnet.is_some() {
        return Ok(Some(range(&o.path_of(""), legacy)?));
    } else if let Some(key) = ["rangeStart", "rangeEnd", "gateway"]
        .into_iter()
        .find(|k| o.raw(k).is_some_and(|v| v.trim_ascii() != b"null"))
    {
        return Err(missing(
            &o.path_of("subnet"),
            &format!(
                "{} is given without it (like \"subnet\": \"10.42.1.0/24\")",
                o.path_of(key)
            ),
        ));
    }
    Ok(None)
}

/// A range set with the names of its ranges' `subnet` members (for messages).
type NamedSet = (Vec<RangeConf>, Vec<String>);

/// `ranges`: each range set, checked.
fn range_sets(o: &Object<'_>) -> Result<Vec<NamedSet>, CniError> {
    let mut sets = Vec::new();
    let ranges: Vec<Vec<RawRange>> = o
        .get(
            "ranges",
            "a list of range sets like [[{\"subnet\": \"10.42.1.0/24\"}], [{\"subnet\": \"fd00:42:1::/64\"}]]",
        )?
        .unwrap_or_default();
    for (i, set) in ranges.into_iter().enumerate() {
        let path = o.path_of(&format!("ranges[{i}]"));
        let set = set
            .into_iter()
            .enumerate()
            .map(|(j, r)| range(&format!("{path}[{j}]."), r))
            .collect::<Result<Vec<_>, _>>()?;
        check_set(&path, &set)?;
        let names = (0..set.len())
            .map(|j| format!("{path}[{j}].subnet"))
            .collect();
        sets.push((set, names));
    }
    Ok(sets)
}

/// `prefix` ends with '.' (e.g. `ipam.ranges[0][1].` or `ipam.` for the legacy range).
fn range(prefix: &str, r: RawRange) -> Result<RangeConf, CniError> {
    let field = |name: &str| format!("{prefix}{name}");
    let subnet = subnet(&field("subnet"), r.subnet)?;
    let inside = |name: &str, t: Option<Text>| -> Result<Option<IpAddr>, CniError> {
        let Some(t) = t else { return Ok(None) };
        let a = ip(&field(name), &t.0)?;
        if !subnet.contains(&a) {
            return Err(bad(
                &field(name),
                &t.0,
                &format!("is not inside the subnet {subnet}"),
            ));
        }
        Ok(Some(a))
    };
    let range_start = inside("rangeStart", r.range_start)?;
    let range_end = inside("rangeEnd", r.range_end)?;
    if let (Some(s), Some(e)) = (range_start, range_end) {
        if s > e {
            return Err(bad(
                &field("rangeEnd"),
                &e.to_string(),
                &format!("is before rangeStart {s}: swap them"),
            ));
        }
    }
    let gateway = inside("gateway", r.gateway)?;
    if let Some(gw) = gateway.filter(|&g| subnet.addr().is_ipv4() && g == subnet.broadcast()) {
        return Err(bad(
            &field("gateway"),
            &gw.to_string(),
            &format!(
                "is the broadcast address of {subnet}: a gateway must be a host address \
                 (leave it out for the first one, {})",
                first_host(subnet)
            ),
        ));
    }
    Ok(RangeConf {
        subnet,
        range_start,
        range_end,
        gateway,
    })
}

/// A range's `subnet` (at `path`): given, a network address, big enough to allocate from, and
/// unicast.
fn subnet(path: &str, t: Option<Text>) -> Result<IpNet, CniError> {
    let t = t.ok_or_else(|| missing(path, "every range needs one (like \"10.42.1.0/24\")"))?;
    let subnet = cidr(path, &t.0)?;
    if subnet.addr() != subnet.network() {
        return Err(bad(
            path,
            &subnet.to_string(),
            &format!(
                "has host bits set: use the network address, {}",
                subnet.trunc()
            ),
        ));
    }
    if subnet.prefix_len() + 2 > subnet.max_prefix_len() {
        return Err(bad(
            path,
            &subnet.to_string(),
            "is too small to allocate from: use a /30 or larger (IPv6: /126 or larger)",
        ));
    }
    if let Some((special, why)) = special_range(subnet) {
        return Err(bad(
            path,
            &subnet.to_string(),
            &format!(
                "overlaps {special}, {why}: pod subnets must be unicast ranges \
                 (like 10.42.0.0/16 or fd00:42::/48)"
            ),
        ));
    }
    Ok(subnet)
}

/// Ranges that cannot hold pods, with why: no address in them may be a pod's or a gateway's.
const SPECIAL: [(&str, &str); 9] = [
    ("0.0.0.0/8", "the \"this network\" range (RFC 1122)"),
    ("127.0.0.0/8", "the loopback range"),
    ("169.254.0.0/16", "the link-local range"),
    ("224.0.0.0/4", "the multicast range"),
    ("255.255.255.255/32", "the limited broadcast address"),
    ("::/128", "the unspecified address"),
    ("::1/128", "the loopback address"),
    ("fe80::/10", "the link-local range"),
    ("ff00::/8", "the multicast range"),
];

/// The first special range `subnet` overlaps (contains, or is inside of), with why it cannot
/// hold pods.
pub fn special_range(subnet: IpNet) -> Option<(IpNet, &'static str)> {
    SPECIAL.iter().find_map(|&(r, why)| {
        let r: IpNet = r.parse().expect("a valid CIDR");
        (r.contains(&subnet.network()) || subnet.contains(&r.network())).then_some((r, why))
    })
}

fn first_host(subnet: IpNet) -> IpAddr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

fn check_set(path: &str, set: &[RangeConf]) -> Result<(), CniError> {
    let Some(first) = set.first() else {
        return Err(bad(
            path,
            "[]",
            "is an empty range set: give at least one {\"subnet\": ...}, or remove it",
        ));
    };
    let v4 = first.subnet.addr().is_ipv4();
    if let Some((j, r)) = set
        .iter()
        .enumerate()
        .find(|(_, r)| r.subnet.addr().is_ipv4() != v4)
    {
        return Err(bad(
            &format!("{path}[{j}].subnet"),
            &r.subnet.to_string(),
            &format!(
                "is not the same IP family as {path}[0].subnet {}: one range set holds one family; \
                 put IPv4 and IPv6 ranges in separate sets",
                first.subnet
            ),
        ));
    }
    Ok(())
}

/// The first and last address a range may hand out, as numbers (for overlap checks).
fn span(r: &RangeConf) -> (bool, u128, u128) {
    let num = |a: IpAddr| match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let lo = r.range_start.unwrap_or(r.subnet.network());
    let hi = r.range_end.unwrap_or(r.subnet.broadcast());
    (r.subnet.addr().is_ipv4(), num(lo), num(hi))
}

/// `ranges`: every range with the name of its `subnet` member, for messages.
fn check_overlaps(ranges: &[(String, &RangeConf)]) -> Result<(), CniError> {
    for (n, (name_a, a)) in ranges.iter().enumerate() {
        for (name_b, b) in &ranges[n + 1..] {
            let (fa, lo_a, hi_a) = span(a);
            let (fb, lo_b, hi_b) = span(b);
            if fa == fb && lo_a <= hi_b && lo_b <= hi_a {
                return Err(bad(
                    name_b,
                    &b.subnet.to_string(),
                    &format!(
                        "overlaps {name_a} {}: ranges must not share addresses (use rangeStart/rangeEnd \
                         to split a subnet)",
                        a.subnet
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn route(path: &str, r: RawRoute) -> Result<RouteConf, CniError> {
    let dst = r.dst.ok_or_else(|| {
        missing(
            &format!("{path}.dst"),
            "every route needs one (like \"0.0.0.0/0\")",
        )
    })?;
    Ok(RouteConf {
        dst: cidr(&format!("{path}.dst"), &dst.0)?,
        gw: r.gw.map(|g| ip(&format!("{path}.gw"), &g.0)).transpose()?,
    })
}

fn cidr(path: &str, s: &str) -> Result<IpNet, CniError> {
    s.parse()
        .map_err(|_| bad(path, s, "is not a CIDR (like 10.42.0.0/16 or fd00:42::/48)"))
}

fn ip(path: &str, s: &str) -> Result<IpAddr, CniError> {
    s.parse().map_err(|_| {
        bad(
            path,
            s,
            "is not an IP address (like 10.42.1.1 or fd00:42::1)",
        )
    })
}
