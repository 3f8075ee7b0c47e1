//! Every API call the agent makes, as RBAC sees it: (apiGroup, resource, verb). The manifests'
//! ClusterRole must grant exactly these (tests/manifests.rs compares both ways), so a new call
//! in the client that is not listed here fails a unit test below, and one not granted fails
//! that test.

use super::publish;
use super::watch::Resource;

/// One permission: `verb` on `resource` (a plural name, or `name/subresource`) of `group`
/// (`""`: the core group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
}

const fn call(group: &'static str, resource: &'static str, verb: &'static str) -> Call {
    Call {
        group,
        resource,
        verb,
    }
}

/// Routing alone: list + watch Nodes ([`super::watch::ROUTING`]), PATCH the own Node's annotations and
/// its status ([`publish`]).
pub const ROUTING: &[Call] = &[
    call("", "nodes", "list"),
    call("", "nodes", "watch"),
    call("", "nodes", "patch"),
    call("", "nodes/status", "patch"),
];

/// What NetworkPolicy enforcement adds: list + watch of the other kinds in
/// [`super::watch::WITH_POLICY`].
pub const POLICY: &[Call] = &[
    call("", "namespaces", "list"),
    call("", "namespaces", "watch"),
    call("", "pods", "list"),
    call("", "pods", "watch"),
    call("networking.k8s.io", "networkpolicies", "list"),
    call("networking.k8s.io", "networkpolicies", "watch"),
];

/// The calls made for `resources` (list + watch each) plus the PATCHes, sorted.
pub fn calls_for(resources: &[Resource]) -> Vec<Call> {
    let mut v: Vec<Call> = resources
        .iter()
        .flat_map(|r| ["list", "watch"].map(|verb| call(r.group, r.resource, verb)))
        .chain(
            publish::PATCHED
                .iter()
                .map(|(group, resource)| call(group, resource, "patch")),
        )
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::watch;

    fn sorted(a: &[&[Call]]) -> Vec<Call> {
        let mut v: Vec<Call> = a.iter().flat_map(|s| s.iter().copied()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_lists_are_what_the_client_calls() {
        assert_eq!(calls_for(watch::ROUTING), sorted(&[ROUTING]));
        assert_eq!(calls_for(watch::WITH_POLICY), sorted(&[ROUTING, POLICY]));
    }

    #[test]
    fn resources_paths_match_their_group_and_name() {
        for r in watch::WITH_POLICY {
            let expect = match r.group {
                "" => format!("/api/v1/{}", r.resource),
                g => format!("/apis/{g}/v1/{}", r.resource),
            };
            assert_eq!(r.path, expect);
        }
    }
}
