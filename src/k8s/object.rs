//! One Kubernetes object of any kind, or a list of them, from a JSON document.
//!
//! The kind is read first (by the structural walk in [`super::json`]); only kinds Lichen handles
//! are parsed fully. Every other kind becomes an [`ObjectRef`] (kind, namespace, name): the
//! extension point where Pods, Namespaces and NetworkPolicies will get their own variants.
//!
//! Lists: `kind: "List"` (what `kubectl get -o json` prints; every item carries its own kind)
//! and typed lists such as `NodeList` (what the API returns; items carry no kind, it is implied).

use serde::Deserialize;

use super::json::{self, from_json, outline};
use super::meta::ObjectMeta;
use super::node::Node;
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Node(Node),
    /// A kind Lichen does not handle (yet).
    Other(ObjectRef),
}

impl Object {
    pub fn kind(&self) -> &str {
        match self {
            Object::Node(_) => "Node",
            Object::Other(r) => &r.kind,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Object::Node(n) => &n.name,
            Object::Other(r) => &r.name,
        }
    }

    /// The object's identity (kind, namespace, name).
    pub fn object_ref(&self) -> ObjectRef {
        match self {
            Object::Node(n) => ObjectRef {
                kind: "Node".into(),
                namespace: None,
                name: n.name.clone(),
            },
            Object::Other(r) => r.clone(),
        }
    }
}

/// Identifies an object without its content.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// Parses one object. `implied_kind` is used when the object has no `kind` (items of a typed
/// list); an object without either is an error.
pub fn parse_object(bytes: &[u8], implied_kind: Option<&str>) -> Result<Object, ParseError> {
    let outline = outline(bytes, json::MAX_OBJECT_BYTES, json::MAX_DEPTH)?;
    let kind = match (outline.kind, implied_kind) {
        (Some(k), _) if !k.is_empty() => k,
        (_, Some(k)) => k.to_owned(),
        _ => return Err(ParseError::MissingField("kind")),
    };
    match kind.as_str() {
        "Node" => Node::from_json(bytes).map(Object::Node),
        _ => {
            let head: Head = from_json(bytes)?;
            Ok(Object::Other(ObjectRef {
                kind,
                namespace: head.metadata.namespace,
                name: head.metadata.name,
            }))
        }
    }
}

/// Parses a document holding one object or a list of objects. Strict: an item that fails to
/// parse fails the document (callers that want to skip bad items use [`json::outline`] and
/// [`parse_object`] per item).
pub fn parse_document(bytes: &[u8]) -> Result<Vec<Object>, ParseError> {
    // A list is two levels deeper than its items.
    let outline = outline(bytes, json::MAX_LIST_BYTES, json::MAX_DEPTH + 2)?;
    let kind = outline.kind.unwrap_or_default();
    let Some(item_kind) = kind.strip_suffix("List") else {
        return parse_object(bytes, None).map(|o| vec![o]);
    };
    let implied = (!item_kind.is_empty()).then_some(item_kind);
    outline
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|r| parse_object(&bytes[r], implied))
        .collect()
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    metadata: ObjectMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    const K3S_NODE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/k3s-node.json"
    ));

    #[test]
    fn single_objects_by_kind() {
        let objs = parse_document(K3S_NODE.as_bytes()).unwrap();
        assert_eq!(objs.len(), 1);
        assert!(matches!(&objs[0], Object::Node(n) if n.name == "edge-pi-01"));
        let objs =
            parse_document(br#"{"kind":"Pod","metadata":{"name":"web","namespace":"default"}}"#);
        assert_eq!(
            objs.unwrap(),
            vec![Object::Other(ObjectRef {
                kind: "Pod".into(),
                namespace: Some("default".into()),
                name: "web".into()
            })]
        );
        assert_eq!(
            parse_document(br#"{"metadata":{"name":"x"}}"#),
            Err(ParseError::MissingField("kind"))
        );
    }

    #[test]
    fn kubectl_list_with_mixed_kinds() {
        let doc = format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{K3S_NODE},
            {{"kind":"Namespace","metadata":{{"name":"kube-system"}}}},
            {{"kind":"Node","metadata":{{"name":"n2"}},"spec":{{"podCIDR":"10.42.4.0/24"}}}}],
            "metadata":{{"resourceVersion":""}}}}"#
        );
        let objs = parse_document(doc.as_bytes()).unwrap();
        let names: Vec<(&str, &str)> = objs.iter().map(|o| (o.kind(), o.name())).collect();
        assert_eq!(
            names,
            [
                ("Node", "edge-pi-01"),
                ("Namespace", "kube-system"),
                ("Node", "n2")
            ]
        );
    }

    #[test]
    fn typed_list_implies_the_item_kind() {
        let doc = br#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"99"},
            "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let objs = parse_document(doc).unwrap();
        assert!(objs.iter().all(|o| matches!(o, Object::Node(_))));
        assert_eq!(objs.len(), 2);
        let empty = parse_document(br#"{"kind":"NodeList","items":[]}"#).unwrap();
        assert!(empty.is_empty());
        let bad = br#"{"kind":"NodeList","items":[{"metadata":{"name":"a"}},{"metadata":{}}]}"#;
        assert_eq!(
            parse_document(bad),
            Err(ParseError::MissingField("metadata.name"))
        );
    }
}
