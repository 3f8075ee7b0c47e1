//! What the agent writes to the API, and nothing else: its own Node's annotations (what peers
//! cannot derive: the VTEP MAC, a public address override) and the Node's `NetworkUnavailable`
//! condition once the data plane is programmed.
//!
//! - Annotations: `PATCH /api/v1/nodes/{name}` with a JSON merge patch
//!   (`application/merge-patch+json`, RFC 7386): only the keys named change; `None` removes one.
//! - The condition: `PATCH /api/v1/nodes/{name}/status` with a strategic merge patch
//!   (`application/strategic-merge-patch+json`), as the route controller and other CNIs do: the
//!   API merges `status.conditions` by `type`, so the other conditions (Ready, …) stay as the
//!   kubelet wrote them. RBAC: `patch` on `nodes` and `nodes/status`.

use std::time::SystemTime;

use super::client::{ApiError, Client};
use super::ParseError;

pub const MERGE_PATCH: &str = "application/merge-patch+json";
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// The condition's reason when Lichen has programmed the node.
pub const REASON_UP: &str = "LichenIsUp";
/// What the PATCHes below touch, as RBAC names them: (apiGroup, resource).
pub const PATCHED: &[(&str, &str)] = &[("", "nodes"), ("", "nodes/status")];
/// The annotation with this node's VTEP MAC (VXLAN).
pub const VTEP_MAC: &str = super::meta::LICHEN_VTEP_MAC;
/// The annotation with this node's WireGuard public key (WireGuard).
pub const WIREGUARD_PUBLIC_KEY: &str = super::meta::LICHEN_WG_PUBLIC_KEY;
/// The annotation with this node's public (underlay) address override.
pub const PUBLIC_IP: &str = super::meta::LICHEN_PUBLIC_IP;

/// The path of Node `node` (the annotations PATCH).
pub fn node_path(node: &str) -> Result<String, ApiError> {
    Ok(format!("/api/v1/nodes/{}", path_segment(node)?))
}

/// The path of Node `node`'s status subresource (the condition PATCH).
pub fn status_path(node: &str) -> Result<String, ApiError> {
    Ok(format!("/api/v1/nodes/{}/status", path_segment(node)?))
}

/// Sets (`Some`) or removes (`None`) annotations on Node `node`.
pub async fn patch_node_annotations(
    client: &Client,
    node: &str,
    annotations: &[(&str, Option<&str>)],
) -> Result<(), ApiError> {
    let path = node_path(node)?;
    client
        .patch(
            &path,
            MERGE_PATCH,
            annotations_patch(annotations).as_bytes(),
        )
        .await
}

/// Sets Node `node`'s `NetworkUnavailable` condition to False (reason [`REASON_UP`]), stamped
/// `now`.
pub async fn set_network_available(
    client: &Client,
    node: &str,
    now: SystemTime,
) -> Result<(), ApiError> {
    let path = status_path(node)?;
    client
        .patch(
            &path,
            STRATEGIC_MERGE_PATCH,
            network_available_patch(now).as_bytes(),
        )
        .await
}

/// `{"metadata":{"annotations":{…}}}`.
pub fn annotations_patch(annotations: &[(&str, Option<&str>)]) -> String {
    let members: Vec<String> = annotations
        .iter()
        .map(|(k, v)| {
            let v = v.map_or_else(|| "null".to_owned(), json_string);
            format!("{}:{v}", json_string(k))
        })
        .collect();
    format!(
        r#"{{"metadata":{{"annotations":{{{}}}}}}}"#,
        members.join(",")
    )
}

/// `{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False",…}]}}`.
pub fn network_available_patch(now: SystemTime) -> String {
    let t = rfc3339(now);
    format!(
        r#"{{"status":{{"conditions":[{{"type":"NetworkUnavailable","status":"False","reason":"{REASON_UP}","message":"Lichen has programmed this node's network","lastTransitionTime":"{t}","lastHeartbeatTime":"{t}"}}]}}}}"#
    )
}

/// A node name as one path segment: a DNS subdomain name, so nothing needs escaping; anything
/// else is refused rather than escaped into another path.
fn path_segment(name: &str) -> Result<&str, ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(name)
    } else {
        Err(ApiError::Parse(ParseError::InvalidField {
            field: "node name",
            value: name.to_owned(),
        }))
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `2024-11-03T09:14:27Z` (seconds precision, UTC), as Kubernetes writes times.
pub fn rfc3339(t: SystemTime) -> String {
    lichen_parse::rfc3339::format(t, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |s| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_730_625_267), "2024-11-03T09:14:27Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn patches_are_json() {
        assert_eq!(
            annotations_patch(&[("lichen.dev/vtep-mac", Some("aa:bb")), ("x\"y", None)]),
            r#"{"metadata":{"annotations":{"lichen.dev/vtep-mac":"aa:bb","x\"y":null}}}"#
        );
        assert!(path_segment("edge-pi-01.local").is_ok());
        assert!(path_segment("../secrets").is_err());
        assert!(path_segment("a/b").is_err());
    }
}
