//! `CNI_ARGS`: `K=V;K=V`.

use std::net::IpAddr;

use crate::cni::{CniArgs, CniError, Code};

fn invalid(msg: String) -> CniError {
    CniError::new(Code::InvalidEnv, msg)
}

/// Parses CNI_ARGS. Empty segments (a trailing `;`) are skipped. `IgnoreUnknown` applies to
/// the whole string, wherever it appears.
pub(crate) fn parse(raw: &str) -> Result<CniArgs, CniError> {
    let mut pairs = Vec::new();
    for pair in raw.split(';').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => pairs.push((k, v)),
            _ => {
                return Err(invalid(format!(
                    "CNI_ARGS pair {pair:?} is not KEY=VALUE: expected pairs like \
                     K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0 separated by ';'"
                )))
            }
        }
    }
    let mut args = CniArgs::default();
    for &(_, v) in pairs.iter().filter(|(k, _)| *k == "IgnoreUnknown") {
        args.ignore_unknown = boolean(v)?;
    }
    for (k, v) in pairs {
        match k {
            "IgnoreUnknown" => {}
            "IP" => args.ips = ips(v)?,
            "MAC" => args.mac = Some(v.to_string()),
            "K8S_POD_NAMESPACE" => args.k8s_pod_namespace = Some(v.to_string()),
            "K8S_POD_NAME" => args.k8s_pod_name = Some(v.to_string()),
            "K8S_POD_INFRA_CONTAINER_ID" => args.k8s_pod_infra_container_id = Some(v.to_string()),
            "K8S_POD_UID" => args.k8s_pod_uid = Some(v.to_string()),
            _ if args.ignore_unknown => {}
            _ => {
                return Err(invalid(format!(
                    "CNI_ARGS key {k:?} is not known to lichen (known: IgnoreUnknown, IP, MAC, K8S_POD_NAMESPACE, \
                     K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID): remove it or add IgnoreUnknown=1"
                )))
            }
        }
    }
    Ok(args)
}

fn boolean(v: &str) -> Result<bool, CniError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(invalid(format!(
            "CNI_ARGS IgnoreUnknown={v:?} is not a boolean: expected 1, 0, true or false"
        ))),
    }
}

/// `IP=10.42.1.7,fd00::7`; an entry may carry a prefix length (`10.42.1.7/24`): the address
/// is kept.
fn ips(v: &str) -> Result<Vec<IpAddr>, CniError> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            crate::cni::syntax::address_of(s).ok_or_else(|| {
                invalid(format!(
                    "CNI_ARGS IP {s:?} is not an IP address: expected comma-separated addresses \
                     like IP=10.42.1.7,fd00::7"
                ))
            })
        })
        .collect()
}
