//! The policy pass next to the route pass (`--network-policy`), on the fake kernel: the
//! ruleset applied, label changes sent as element changes, the table removed when policy is
//! off, and a missing br_netfilter reported.

use super::{state, three, Case, HOSTGW};
use crate::model::ClusterState;
use crate::policy::table::Applied;

const POLICY: &str =
    r#"{"Network":"10.100.0.0/16","Backend":{"Type":"host-gw"},"NetworkPolicy":true}"#;

fn with_policy(client_app: &str) -> ClusterState {
    use crate::policy::testing::{ns, pod, policy};
    let mut s = state(&three());
    ns(&mut s, "a", &[]);
    pod(&mut s, "a/web", "node1", "10.100.1.2", &[("app", "web")]);
    pod(
        &mut s,
        "a/client",
        "node2",
        "10.100.2.2",
        &[("app", client_app)],
    );
    policy(
        &mut s,
        "a/web",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}]}]}"#,
    );
    s
}

#[test]
fn policy_on_applies_the_ruleset_and_label_changes_are_element_changes() {
    let mut c = Case::new(POLICY);
    let r = c.run(&with_policy("client"));
    assert!(r.last_errors.is_empty(), "{:?}", r.last_errors);
    let rs = c.rec.kernel.policy.clone().expect("policy table");
    assert_eq!(rs.pods.len(), 1, "only node1's pods");
    let status = r.render();
    assert!(
        status.contains("a/web: ingress isolated by a/web; egress not isolated"),
        "{status}"
    );
    assert!(status.contains("same-node traffic: filtered"), "{status}");
    // unchanged state: nothing sent
    c.run(&with_policy("client"));
    assert_eq!(c.rec.kernel.policy_applies.len(), 1);
    // a label change: elements only
    c.run(&with_policy("other"));
    assert!(matches!(
        c.rec.kernel.policy_applies[..],
        [Applied::Replaced(_), Applied::Elements(_)]
    ));
    // the timer's full pass replaces the table
    c.policy
        .sync(&mut c.rec.kernel, &with_policy("other"), true);
    assert!(matches!(
        c.rec.kernel.policy_applies.last(),
        Some(Applied::Replaced(_))
    ));
    // cleanup removes the policy table too
    assert!(c.rec.cleanup().is_empty());
    assert!(c.rec.kernel.policy.is_none());
}

#[test]
fn policy_off_removes_the_table_and_missing_br_netfilter_is_reported() {
    let mut c = Case::new(HOSTGW);
    c.rec.kernel.policy = Some(crate::policy::Ruleset::default());
    let r = c.run(&with_policy("client"));
    assert!(
        c.rec.kernel.policy.is_none(),
        "policy off removes the table"
    );
    assert!(r.render().contains("policy:   off"));

    let mut c = Case::new(POLICY);
    c.rec.kernel.bridge_nf = false;
    let r = c.run(&with_policy("client"));
    let status = r.render();
    assert!(
        status.contains("same-node traffic: WARNING: br_netfilter is not loaded"),
        "{status}"
    );
}

/// Without bridged pods (routed mode, the plugin's default) a missing br_netfilter changes
/// nothing: same-node traffic is routed through the filter, and no warning is given.
#[test]
fn missing_br_netfilter_is_no_fault_without_bridged_pods() {
    let mut c = Case::new(POLICY);
    c.rec.kernel.bridge_nf = false;
    c.rec.kernel.bridged_pods = false;
    let status = c.run(&with_policy("client")).render();
    assert!(
        status.contains("same-node traffic: filtered (routed: no pod on a bridge)"),
        "{status}"
    );
    assert!(!status.contains("WARNING"), "{status}");
}
