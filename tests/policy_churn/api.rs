//! The churn test against the Kubernetes API: the walk's objects go to the test API server
//! (tests/common/kube_api.rs) instead of the cluster dir, each file as one object created,
//! replaced or deleted there.

use std::collections::BTreeMap;

use super::common::cluster::Cluster;
use lichen::k8s::{parse_object, Object};

/// The API collection and key of the one object in `json`.
fn place(json: &str) -> (&'static str, String) {
    match parse_object(json.as_bytes(), None).unwrap() {
        Object::Namespace(n) => ("/api/v1/namespaces", n.name),
        Object::Pod(p) => ("/api/v1/pods", format!("{}/{}", p.namespace, p.name)),
        Object::NetworkPolicy(p) => (
            "/apis/networking.k8s.io/v1/networkpolicies",
            format!("{}/{}", p.namespace, p.name),
        ),
        o => panic!("not a walk object: {o:?}"),
    }
}

/// Applies the walk's change to the API: removed objects deleted, changed ones put.
pub fn write(c: &Cluster, before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) {
    for (_, json) in before.iter().filter(|(n, _)| !after.contains_key(*n)) {
        let (path, key) = place(json);
        c.api().delete_object(path, &key);
    }
    for (name, json) in after {
        if before.get(name) != Some(json) {
            let (path, key) = place(json);
            c.api().put_object(path, &key, json);
        }
    }
}

/// What the agents read: the walk's `files` and the Nodes the API serves.
pub fn files(c: &Cluster, files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = files.clone();
    for n in &c.nodes {
        let json = c.api().node(&n.name).expect("the Node in the API");
        out.insert(format!("node-{}.json", n.name), json);
    }
    out
}
