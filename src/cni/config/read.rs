//! Reading the top level of a network config.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{absolute_path, bad, ipam, missing};
use crate::cni::json::{self, Object, Text};
use crate::cni::syntax::{address_of, valid_ifname};
use crate::cni::{
    Attachment, CniError, CniResult, Code, IpamConf, Mode, NetConf, RequestedMac, Version,
};

#[derive(Deserialize)]
struct RawAttachment {
    #[serde(rename = "containerID")]
    container_id: Option<Text>,
    ifname: Option<Text>,
}

const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

pub(super) fn parse(input: &[u8]) -> Result<NetConf, CniError> {
    json::check(input, "network config")?;
    let top = Object::parse("", input, Code::InvalidConfig).map_err(|e| CniError {
        code: Code::Decode as u32,
        msg: format!("network config: {}", e.msg),
        details: e.details,
    })?;
    let cni_version = version(&top)?;
    let name = top.text("name")?.ok_or_else(|| {
        missing(
            "name",
            "give the network a name (like \"name\": \"lichen\")",
        )
    })?;
    check_name(&name)?;
    let kind = top
        .text("type")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("type", "it names the plugin (like \"type\": \"lichen\")"))?;
    let bridge = bridge(&top)?;
    let mtu = mtu(&top)?;
    let log_level = log_level(&top)?;
    let path = |key: &str| -> Result<Option<PathBuf>, CniError> {
        top.text(key)?.map(|p| absolute_path(key, p)).transpose()
    };
    Ok(NetConf {
        cni_version,
        name,
        kind,
        mode: mode(&top)?,
        bridge,
        mtu,
        hairpin_mode: top.get("hairpinMode", "true or false")?.unwrap_or(false),
        is_default_gateway: top
            .get("isDefaultGateway", "true or false")?
            .unwrap_or(true),
        subnet_file: path("subnetFile")?.unwrap_or_else(|| "/run/lichen/subnet.env".into()),
        log_level,
        log_file: path("logFile")?,
        ipam: match top.object("ipam")? {
            Some(o) => ipam::parse(&o)?,
            None => IpamConf::default(),
        },
        requested_ips: requested_ips(&top)?,
        requested_mac: requested_mac(&top)?,
        valid_attachments: attachments(&top)?,
        prev_result: prev_result(&top)?,
    })
}

/// `bridge`, `lichen0` when not given.
fn bridge(top: &Object<'_>) -> Result<String, CniError> {
    let bridge = top.text("bridge")?.unwrap_or_else(|| "lichen0".into());
    if !valid_ifname(&bridge) {
        return Err(bad(
            "bridge",
            &bridge,
            "is not a valid interface name: 1-15 bytes without '/', ':', whitespace or NUL (like lichen0)",
        ));
    }
    Ok(bridge)
}

/// `mode`: "bridge", "routed", or absent (`None`: the node decides at ADD).
fn mode(top: &Object<'_>) -> Result<Option<Mode>, CniError> {
    match top.text("mode")?.as_deref() {
        None => Ok(None),
        Some(m) => m.parse().map(Some).map_err(|_| bad(
            "mode",
            m,
            "is not a mode: use \"routed\" (no bridge: a host route per pod), \"bridge\" (pods on the node's bridge: L2 between them) or leave it out (routed, unless the node's bridge still has pods)",
        )),
    }
}

/// `mtu`: 68 to 65535, if given.
fn mtu(top: &Object<'_>) -> Result<Option<u32>, CniError> {
    let mtu = top.get::<u32>("mtu", "an integer from 68 to 65535")?;
    if let Some(m) = mtu.filter(|m| !(68..=65535).contains(m)) {
        return Err(CniError::new(
            Code::InvalidConfig,
            format!("mtu {m} is out of range: use 68 to 65535 (like 1450)"),
        ));
    }
    Ok(mtu)
}

/// `logLevel`, lowercased: one of [`LOG_LEVELS`], if given.
fn log_level(top: &Object<'_>) -> Result<Option<String>, CniError> {
    let log_level = top.text("logLevel")?.map(|l| l.to_ascii_lowercase());
    if let Some(l) = log_level.as_deref().filter(|l| !LOG_LEVELS.contains(l)) {
        return Err(bad(
            "logLevel",
            l,
            &format!("is not a log level: use one of {}", LOG_LEVELS.join(", ")),
        ));
    }
    Ok(log_level)
}

/// Missing, non-string or unknown `cniVersion` → code 1, listing what is supported.
fn version(top: &Object<'_>) -> Result<Version, CniError> {
    let incompatible = |what: String| {
        CniError::new(
            Code::IncompatibleVersion,
            format!(
                "{what}: lichen supports cniVersion {}; set \"cniVersion\" to one of them",
                crate::cni::result::supported()
            ),
        )
    };
    match top.text("cniVersion") {
        Err(_) => Err(incompatible(format!(
            "cniVersion {} is not a string",
            json::describe(top.raw("cniVersion").unwrap_or_default())
        ))),
        Ok(None) => Err(incompatible("cniVersion is missing".into())),
        Ok(Some(v)) => Version::parse(&v)
            .ok_or_else(|| incompatible(format!("cniVersion \"{v}\" is not supported"))),
    }
}

/// The name becomes a directory under dataDir. The spec's grammar, as libcni and the reference
/// plugins' skel enforce it: `[A-Za-z0-9][A-Za-z0-9_.-]*`; and at most 255 bytes (a file name).
fn check_name(name: &str) -> Result<(), CniError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let why = if name.is_empty() {
        "is empty".to_string()
    } else if name.len() > 255 {
        "is longer than 255 bytes".to_string()
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        "does not start with a letter or digit".to_string()
    } else if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        format!("contains {c:?}")
    } else {
        return Ok(());
    };
    Err(bad(
        "name",
        name,
        &format!(
            "{why}: use 1-255 letters, digits, '_', '.' or '-', starting with a letter or \
             digit (like \"lichen\")"
        ),
    ))
}

/// `runtimeConfig.ips` (the `ips` capability) then `args.cni.ips`: addresses, each optionally
/// with a prefix length.
fn requested_ips(top: &Object<'_>) -> Result<Vec<IpAddr>, CniError> {
    let mut out = Vec::new();
    let lists = [
        top.object("runtimeConfig")?,
        top.object("args")?
            .map(|a| a.object("cni"))
            .transpose()?
            .flatten(),
    ];
    for o in lists.iter().flatten() {
        let ips = o
            .get::<Vec<Text>>("ips", "a list of strings like [\"10.42.1.7/24\"]")?
            .unwrap_or_default();
        for (i, t) in ips.into_iter().enumerate() {
            let a = address_of(&t.0).ok_or_else(|| {
                bad(
                    &o.path_of(&format!("ips[{i}]")),
                    &t.0,
                    "is not an IP address (like 10.42.1.7 or 10.42.1.7/24)",
                )
            })?;
            out.push(a);
        }
    }
    Ok(out)
}

/// `runtimeConfig.mac` (the `mac` capability), else `args.cni.mac`, as given.
fn requested_mac(top: &Object<'_>) -> Result<Option<RequestedMac>, CniError> {
    if let Some(value) = top
        .object("runtimeConfig")?
        .map(|o| o.text("mac"))
        .transpose()?
    {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(Some(RequestedMac {
                field: "runtimeConfig.mac",
                value,
            }));
        }
    }
    let cni = top.object("args")?.map(|a| a.object("cni")).transpose()?;
    let value = cni.flatten().map(|o| o.text("mac")).transpose()?.flatten();
    Ok(value.filter(|v| !v.is_empty()).map(|value| RequestedMac {
        field: "args.cni.mac",
        value,
    }))
}

/// GC's `cni.dev/valid-attachments` ∪ the older `cni.dev/attachments` (order kept, no
/// duplicates); `None` when neither key is present.
fn attachments(top: &Object<'_>) -> Result<Option<Vec<Attachment>>, CniError> {
    let mut out: Option<Vec<Attachment>> = None;
    for key in ["cni.dev/valid-attachments", "cni.dev/attachments"] {
        let Some(list) = top.get::<Vec<RawAttachment>>(
            key,
            "a list of {\"containerID\": \"...\", \"ifname\": \"...\"} objects",
        )?
        else {
            continue;
        };
        let out = out.get_or_insert_with(Vec::new);
        for (i, a) in list.into_iter().enumerate() {
            let field = |f: &str| format!("{key}[{i}].{f}");
            let (Some(c), Some(n)) = (a.container_id, a.ifname) else {
                return Err(missing(
                    &field("containerID/ifname"),
                    "every attachment needs both (like {\"containerID\": \"4f6c0e2a9b1d\", \"ifname\": \"eth0\"})",
                ));
            };
            let a = Attachment {
                container_id: c.0,
                ifname: n.0,
            };
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// `prevResult`, parsed as a result of any version: a broken one is code 6 naming it.
fn prev_result(top: &Object<'_>) -> Result<Option<CniResult>, CniError> {
    match top.raw("prevResult") {
        None => Ok(None),
        Some(raw) if raw.trim_ascii() == b"null" => Ok(None),
        Some(raw) => CniResult::parse_at(raw, "prevResult").map(Some),
    }
}
