//! One Kubernetes object of any kind, or a list of them, from a JSON document.
//!
//! The kind is read first (by the structural walk in [`super::json`]); only kinds Lichen handles
//! are parsed fully (Nodes, and for the policy mode Namespaces, Pods and NetworkPolicies). Every
//! other kind becomes an [`ObjectRef`] (kind, namespace, name).
//!
//! Lists: `kind: "List"` (what `kubectl get -o json` prints; every item carries its own kind)
//! and typed lists such as `NodeList` (what the API returns; items carry no kind, it is implied).

use serde::Deserialize;

use super::json::{self, from_json, outline};
use super::meta::ObjectMeta;
use super::namespace::Namespace;
use super::netpol::NetworkPolicy;
use super::node::Node;
use super::pod::Pod;
use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Node(Node),
    Namespace(Namespace),
    Pod(Pod),
    NetworkPolicy(NetworkPolicy),
    /// A kind Lichen does not handle (yet).
    Other(ObjectRef),
}

impl Object {
    pub fn kind(&self) -> &str {
        match self {
            Object::Node(_) => "Node",
            Object::Namespace(_) => "Namespace",
            Object::Pod(_) => "Pod",
            Object::NetworkPolicy(_) => "NetworkPolicy",
            Object::Other(r) => &r.kind,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Object::Node(n) => &n.name,
            Object::Namespace(n) => &n.name,
            Object::Pod(p) => &p.name,
            Object::NetworkPolicy(p) => &p.name,
            Object::Other(r) => &r.name,
        }
    }

    /// The namespace of a namespaced object (Pods, NetworkPolicies, namespaced other kinds).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Object::Node(_) | Object::Namespace(_) => None,
            Object::Pod(p) => Some(&p.namespace),
            Object::NetworkPolicy(p) => Some(&p.namespace),
            Object::Other(r) => r.namespace.as_deref(),
        }
    }

    /// `Kind/name` or `Kind/namespace/name`: unique per object in a cluster.
    pub fn key(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{ns}/{}", self.kind(), self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }

    /// The object's identity (kind, namespace, name).
    pub fn object_ref(&self) -> ObjectRef {
        match self {
            Object::Other(r) => r.clone(),
            o => ObjectRef {
                kind: o.kind().into(),
                namespace: o.namespace().map(str::to_owned),
                name: o.name().into(),
            },
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
        "Namespace" => Namespace::from_json(bytes).map(Object::Namespace),
        "Pod" => Pod::from_json(bytes).map(Object::Pod),
        "NetworkPolicy" => NetworkPolicy::from_json(bytes).map(Object::NetworkPolicy),
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
        "/../../tests/fixtures/k3s-node.json"
    ));

    /// kubectl's Pod (the fixture `k8s::pod`'s tests read field by field) is a Pod object.
    #[test]
    fn a_kubectl_pod_is_a_pod() {
        let pod = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/k8s-pod.json"
        ));
        assert!(matches!(parse_object(pod, None), Ok(Object::Pod(_))));
    }

    #[test]
    fn single_objects_by_kind() {
        let objs = parse_document(K3S_NODE.as_bytes()).unwrap();
        assert_eq!(objs.len(), 1);
        assert!(matches!(&objs[0], Object::Node(n) if n.name == "edge-pi-01"));
        let objs = parse_document(
            br#"{"kind":"ConfigMap","metadata":{"name":"web","namespace":"default"}}"#,
        );
        assert_eq!(
            objs.unwrap(),
            vec![Object::Other(ObjectRef {
                kind: "ConfigMap".into(),
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

    #[test]
    fn policy_kinds_parse_from_a_kubectl_list() {
        let fixture = |name: &str| {
            std::fs::read_to_string(format!(
                "{}/../../tests/fixtures/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let doc = format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{},{},{}],"metadata":{{}}}}"#,
            fixture("k8s-namespace.json"),
            fixture("k8s-pod.json"),
            fixture("k8s-netpol.json")
        );
        let objs = parse_document(doc.as_bytes()).unwrap();
        let keys: Vec<String> = objs.iter().map(Object::key).collect();
        assert_eq!(
            keys,
            [
                "Namespace/shop",
                "Pod/shop/web-7d9c6b5f4-x2kqp",
                "NetworkPolicy/shop/web-allow"
            ]
        );
        let typed = br#"{"kind":"PodList","items":[{"metadata":{"name":"a","namespace":"x"}}]}"#;
        assert!(matches!(&parse_document(typed).unwrap()[0], Object::Pod(p) if p.namespace == "x"));
    }
}
