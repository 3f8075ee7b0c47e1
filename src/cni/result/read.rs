//! JSON of any supported version → `CniResult`.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::cni::json::{self, Object, Text};
use crate::cni::{CniError, CniResult, Code, Dns, Interface, IpConfig, Route, Version};

#[derive(Deserialize)]
struct RawInterface {
    name: Option<Text>,
    mac: Option<Text>,
    sandbox: Option<Text>,
    mtu: Option<u32>,
}

#[derive(Deserialize)]
struct RawIp {
    address: Option<Text>,
    gateway: Option<Text>,
    interface: Option<u64>,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: Option<Text>,
    gw: Option<Text>,
    mtu: Option<u32>,
    advmss: Option<u32>,
    priority: Option<u32>,
    table: Option<u32>,
    scope: Option<u32>,
}

#[derive(Deserialize)]
struct RawDns {
    nameservers: Option<Vec<Text>>,
    domain: Option<Text>,
    search: Option<Vec<Text>>,
    options: Option<Vec<Text>>,
}

fn decode(msg: String) -> CniError {
    CniError::new(Code::Decode, msg)
}

/// Parses a result; `path` prefixes member names in messages ("prevResult", or "" alone).
pub(crate) fn parse(json: &[u8], path: &str) -> Result<CniResult, CniError> {
    let what = if path.is_empty() { "CNI result" } else { path };
    json::check(json, what)?;
    let top = Object::parse(path, json, Code::Decode)?;
    check_version(&top)?;
    let interfaces = top
        .get::<Vec<RawInterface>>(
            "interfaces",
            "a list of {\"name\", \"mac\", \"sandbox\"} objects",
        )?
        .unwrap_or_default();
    let ips = top
        .get::<Vec<RawIp>>(
            "ips",
            "a list of {\"address\", \"gateway\", \"interface\"} objects",
        )?
        .unwrap_or_default();
    let routes = top
        .get::<Vec<RawRoute>>("routes", "a list of {\"dst\", \"gw\"} objects")?
        .unwrap_or_default();
    let dns = top.get::<RawDns>(
        "dns",
        "an object {\"nameservers\", \"domain\", \"search\", \"options\"}",
    )?;

    let interfaces: Vec<Interface> = interfaces.into_iter().map(interface).collect();
    let ips = ips
        .into_iter()
        .enumerate()
        .map(|(i, ip)| ip_config(&top.path_of(&format!("ips[{i}]")), ip, interfaces.len()))
        .collect::<Result<_, _>>()?;
    let routes = routes
        .into_iter()
        .enumerate()
        .map(|(i, r)| route(&top.path_of(&format!("routes[{i}]")), r))
        .collect::<Result<_, _>>()?;
    let texts = |v: Option<Vec<Text>>| v.unwrap_or_default().into_iter().map(|t| t.0).collect();
    let dns = dns.map_or_else(Dns::default, |d| Dns {
        nameservers: texts(d.nameservers),
        domain: d.domain.map(|t| t.0).unwrap_or_default(),
        search: texts(d.search),
        options: texts(d.options),
    });
    Ok(CniResult {
        interfaces,
        ips,
        routes,
        dns,
    })
}

/// `cniVersion` is optional in a result (the shape tells enough), but when given it must be
/// one we read. 0.1.0/0.2.0 results (`ip4`/`ip6` objects) are refused with code 1.
fn check_version(top: &Object<'_>) -> Result<(), CniError> {
    let old = |found: &str| {
        CniError::new(
            Code::IncompatibleVersion,
            format!(
                "{found}: results in the 0.1.0/0.2.0 format (\"ip4\"/\"ip6\" objects) are not supported; \
                 configure the plugins of this chain with cniVersion 0.3.0 or newer ({})",
                supported()
            ),
        )
    };
    let version = top.text("cniVersion")?;
    match version.as_deref() {
        Some(v @ ("0.1.0" | "0.2.0")) => {
            return Err(old(&format!("{} \"{v}\"", top.path_of("cniVersion"))))
        }
        Some(v) if Version::parse(v).is_none() => {
            return Err(CniError::new(
                Code::IncompatibleVersion,
                format!(
                    "{} \"{v}\" is not supported: use one of {}",
                    top.path_of("cniVersion"),
                    supported()
                ),
            ))
        }
        _ => {}
    }
    for key in ["ip4", "ip6"] {
        if top.raw(key).is_some() {
            return Err(old(&format!("{} is present", top.path_of(key))));
        }
    }
    Ok(())
}

/// "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
pub(crate) fn supported() -> String {
    Version::ALL.map(Version::as_str).join(", ")
}

fn interface(r: RawInterface) -> Interface {
    let text = |t: Option<Text>| t.map(|t| t.0).unwrap_or_default();
    Interface {
        name: text(r.name),
        mac: text(r.mac),
        sandbox: text(r.sandbox),
        mtu: r.mtu,
    }
}

fn ip_config(path: &str, r: RawIp, n_interfaces: usize) -> Result<IpConfig, CniError> {
    let address = r
        .address
        .ok_or_else(|| decode(format!("{path}.address is missing")))?;
    let address = address.0.parse::<IpNet>().map_err(|_| {
        decode(format!(
            "{path}.address \"{}\" is not an address with a prefix length (like 10.42.1.5/24)",
            address.0
        ))
    })?;
    let gateway = addr(&format!("{path}.gateway"), r.gateway)?;
    let interface = match r.interface {
        None => None,
        Some(i) => match usize::try_from(i).ok().filter(|&i| i < n_interfaces) {
            Some(i) => Some(i),
            None => {
                return Err(decode(format!(
                    "{path}.interface {i} does not index the {n_interfaces} entries of interfaces"
                )))
            }
        },
    };
    Ok(IpConfig {
        address,
        gateway,
        interface,
    })
}

fn route(path: &str, r: RawRoute) -> Result<Route, CniError> {
    let dst = r
        .dst
        .ok_or_else(|| decode(format!("{path}.dst is missing")))?;
    let dst = dst.0.parse::<IpNet>().map_err(|_| {
        decode(format!(
            "{path}.dst \"{}\" is not a CIDR (like 0.0.0.0/0 or 10.42.0.0/16)",
            dst.0
        ))
    })?;
    Ok(Route {
        dst,
        gw: addr(&format!("{path}.gw"), r.gw)?,
        mtu: r.mtu,
        advmss: r.advmss,
        priority: r.priority,
        table: r.table,
        scope: r.scope,
    })
}

fn addr(path: &str, t: Option<Text>) -> Result<Option<IpAddr>, CniError> {
    match t {
        None => Ok(None),
        Some(t) => t.0.parse().map(Some).map_err(|_| {
            decode(format!(
                "{path} \"{}\" is not an IP address (like 10.42.1.1 or fd00::1)",
                t.0
            ))
        }),
    }
}
