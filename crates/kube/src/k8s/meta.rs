//! Object metadata shared by every kind, and the annotations Lichen keeps.
//!
//! Annotations are a map with arbitrary keys and serde-json-core cannot deserialize arbitrary
//! maps into a generic value, so [`Annotations`] has its own visitor: it keeps the keys in
//! [`KEPT_ANNOTATIONS`] and skips every other value with `IgnoredAny` (k3s puts long JSON
//! strings such as `k3s.io/node-args` there that nobody here needs).

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::json::Key;
use super::labels::{Labels, NO_LABELS};

/// Lichen's VTEP MAC for VXLAN, `aa:bb:cc:dd:ee:ff`.
pub const LICHEN_VTEP_MAC: &str = "lichen.dev/vtep-mac";
/// The node's underlay address as Lichen sees it.
pub const LICHEN_PUBLIC_IP: &str = "lichen.dev/public-ip";
/// The node's WireGuard public key (base64 of 32 bytes, as `wg pubkey` prints it).
pub const LICHEN_WG_PUBLIC_KEY: &str = "lichen.dev/wireguard-public-key";
/// Where peers reach the node's WireGuard device, `ip:port` (`[ipv6]:port`), when not at its
/// InternalIP and the cluster's listen port (e.g. behind a NAT's port forward).
pub const LICHEN_WG_ENDPOINT: &str = "lichen.dev/wireguard-endpoint";
/// Flannel's backend data, `{"VNI":1,"VtepMAC":"…"}` (a JSON document inside a string).
pub const FLANNEL_BACKEND_DATA: &str = "flannel.alpha.coreos.com/backend-data";
/// Flannel's underlay address for the node.
pub const FLANNEL_PUBLIC_IP: &str = "flannel.alpha.coreos.com/public-ip";

/// The annotation keys kept when an object is parsed; all others are skipped unread.
pub const KEPT_ANNOTATIONS: &[&str] = &[
    LICHEN_VTEP_MAC,
    LICHEN_PUBLIC_IP,
    LICHEN_WG_PUBLIC_KEY,
    LICHEN_WG_ENDPOINT,
    FLANNEL_BACKEND_DATA,
    FLANNEL_PUBLIC_IP,
];

/// `metadata` of any object. Missing fields are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: Option<String>,
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
    #[serde(rename = "deletionTimestamp")]
    pub deletion_timestamp: Option<String>,
    pub annotations: Option<Annotations>,
    /// All labels (Pods and Namespaces are selected by them).
    pub labels: Option<Labels>,
}

impl ObjectMeta {
    /// The kept annotation `key`, if the object has it.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref().and_then(|a| a.get(key))
    }

    /// The labels; none is the empty map.
    pub fn labels(&self) -> &Labels {
        self.labels.as_ref().unwrap_or(&NO_LABELS)
    }
}

/// The kept annotations, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations(pub Vec<(String, String)>);

impl Annotations {
    pub fn get(&self, key: &str) -> Option<&str> {
        // The last occurrence wins, as in Go's decoder.
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(KeepVisitor)
    }
}

struct KeepVisitor;

impl<'de> Visitor<'de> for KeepVisitor {
    type Value = Annotations;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of annotations")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
        let mut kept = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if KEPT_ANNOTATIONS.contains(&key.as_str()) {
                kept.push((key, map.next_value::<String>()?));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Annotations(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::json::from_json;

    #[test]
    fn keeps_wanted_annotations_only_and_unescapes() {
        let doc = br#"{"name":"n1","resourceVersion":"42","annotations":{
            "k3s.io/node-args":"[\"server\",\"--x\",\"a\\u0026b\"]",
            "other":{"nested":[1,2,{"x":null}]},
            "lichen.dev/public-ip":"198.51.100.7",
            "flannel.alpha.coreos.com/backend-data":"{\"VNI\":1,\"VtepMAC\":\"a\u0026\\\\\"}"}}"#;
        let m: ObjectMeta = from_json(doc).unwrap();
        assert_eq!(m.name, "n1");
        assert_eq!(m.resource_version, "42");
        assert_eq!(m.deletion_timestamp, None);
        assert_eq!(m.annotation(LICHEN_PUBLIC_IP), Some("198.51.100.7"));
        assert_eq!(
            m.annotation(FLANNEL_BACKEND_DATA),
            Some(r#"{"VNI":1,"VtepMAC":"a&\\"}"#)
        );
        assert_eq!(m.annotations.unwrap().0.len(), 2);
    }

    #[test]
    fn null_and_missing_annotations() {
        let m: ObjectMeta = from_json(br#"{"name":"a","annotations":null}"#).unwrap();
        assert_eq!(m.annotations, None);
        let m: ObjectMeta = from_json(br#"{}"#).unwrap();
        assert_eq!(m, ObjectMeta::default());
    }
}
