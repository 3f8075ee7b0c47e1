//! Pure tests of the policy compiler and `explain`: small clusters, reachability cells checked
//! both ways (allowed and denied), and the ruleset's shape where it matters (churn, names).

mod cases;
mod peers;
mod ports;
mod shape;

use lichen_kube::k8s::Object;
use lichen_kube::model::ClusterState;

use crate::testing::*;
use crate::{compile, Ruleset};

/// What wakes the agent's policy reconciler: what `compile` reads for this node, and only
/// that (another Node's change, or this Node's non-address fields, does not recompile).
#[test]
fn inputs_differ_names_what_compile_reads() {
    use super::compile::inputs_differ;
    let base = cluster();
    let changed = |f: &dyn Fn(&mut ClusterState)| {
        let mut s = base.clone();
        f(&mut s);
        inputs_differ(&base, &s, "n1")
    };
    assert!(!changed(&|_| {}));
    // another node: its address, its podCIDR, a new node
    assert!(!changed(&|s| {
        let n2 = s.nodes.get_mut("n2").unwrap();
        n2.internal_ips = vec![ip("198.51.100.9")];
        n2.pod_cidrs = vec!["10.42.9.0/24".parse().unwrap()];
    }));
    assert!(!changed(&|s| {
        let mut n3 = s.nodes["n2"].clone();
        n3.name = "n3".into();
        s.upsert(Object::Node(n3));
    }));
    // this node: a field compile does not read, then its addresses
    assert!(!changed(&|s| {
        s.nodes.get_mut("n1").unwrap().resource_version = "7".into();
    }));
    assert!(changed(&|s| {
        s.nodes.get_mut("n1").unwrap().internal_ips = vec![ip("198.51.100.9")];
    }));
    assert!(changed(&|s| {
        s.nodes.get_mut("n1").unwrap().public_ip = Some(ip("203.0.113.9"));
    }));
    // every policy kind, on any node
    assert!(changed(&|s| ns(s, "a", &[("team", "t")])));
    assert!(changed(&|s| pod(s, "a/web", "n2", "10.42.2.5", &[])));
    assert!(changed(&|s| policy(s, "a/p", r#"{"podSelector":{}}"#)));
}
