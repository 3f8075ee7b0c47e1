//! A Kubernetes Namespace, reduced to its name and labels (what `namespaceSelector` matches).
//!
//! The API server labels every namespace `kubernetes.io/metadata.name=<name>` (immutable, since
//! Kubernetes 1.21). Hand-written cluster dirs may leave it out, so it is added when absent:
//! policies select namespaces by it more than by anything else.

use serde::Deserialize;

use super::json::from_json;
use super::labels::Labels;
use super::meta::ObjectMeta;
use super::ParseError;

/// The label the API server puts on every namespace.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub resource_version: String,
    /// Includes [`NAME_LABEL`].
    pub labels: Labels,
    pub deleting: bool,
}

impl Namespace {
    /// Parses one Namespace object (kind `Namespace`, or absent as in a `NamespaceList`).
    pub fn from_json(bytes: &[u8]) -> Result<Namespace, ParseError> {
        let raw: RawNamespace = from_json(bytes)?;
        if !raw.kind.is_empty() && raw.kind != "Namespace" {
            return Err(ParseError::WrongKind {
                expected: "Namespace",
                found: raw.kind,
            });
        }
        let meta = raw.metadata;
        if meta.name.is_empty() {
            return Err(ParseError::MissingField("metadata.name"));
        }
        Ok(Namespace::new(&meta.name, meta.labels.clone().unwrap_or_default()).with_meta(&meta))
    }

    /// A namespace with `labels` plus the name label.
    pub fn new(name: &str, mut labels: Labels) -> Namespace {
        labels
            .0
            .entry(NAME_LABEL.to_owned())
            .or_insert_with(|| name.to_owned());
        Namespace {
            name: name.to_owned(),
            resource_version: String::new(),
            labels,
            deleting: false,
        }
    }

    fn with_meta(mut self, meta: &ObjectMeta) -> Namespace {
        self.resource_version = meta.resource_version.clone();
        self.deleting = meta.deletion_timestamp.is_some();
        self
    }
}

#[derive(Deserialize)]
struct RawNamespace {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
}
