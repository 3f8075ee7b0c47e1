//! The node-rules reconciler against the fake driver: applied once, skipped while unchanged,
//! re-applied by the resync when the kernel's copy drifted or went, a changed net-conf applied
//! at once, a refusal in its section and retried, and the cleanup's own error.

use super::fake::FakeFirewall;
use super::*;

fn rules(nets: &[&str], masquerade: bool) -> NodeRules {
    NodeRules {
        cluster: nets.iter().map(|n| n.parse().unwrap()).collect(),
        masquerade,
    }
}

fn netconf_rules(json: &str) -> NodeRules {
    node_rules(&ClusterNetwork::parse(json.as_bytes()).unwrap())
}

#[test]
fn the_rules_come_from_the_net_conf_alone() {
    let r = netconf_rules(
        r#"{"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fd42::/56","IPMasq":false}"#,
    );
    assert_eq!(r, rules(&["10.42.0.0/16", "fd42::/56"], false));
    assert!(netconf_rules(r#"{"Network":"10.42.0.0/16"}"#).masquerade);
}

#[test]
fn applies_once_then_skips_while_unchanged() {
    let mut s = RulesSync::new(FakeFirewall::default());
    let r = rules(&["10.42.0.0/16"], true);
    let first = s.sync(&r, false);
    assert_eq!(s.firewall.table.as_ref(), Some(&r));
    assert_eq!(first.rules.as_ref(), Some(&r));
    assert!(first.settled());
    let again = s.sync(&r, false);
    assert_eq!(s.firewall.applies, 1, "unchanged: not applied again");
    assert_eq!((again.runs, again.failed_runs), (2, 0));
    assert!(again.settled());
}

#[test]
fn the_resync_reapplies_when_the_kernel_copy_drifted_or_was_deleted() {
    let mut s = RulesSync::new(FakeFirewall::default());
    let r = rules(&["10.42.0.0/16"], true);
    s.sync(&r, false);
    // Someone deleted the table: a pass that is not the resync does not look.
    s.firewall.table = None;
    s.sync(&r, false);
    assert_eq!(s.firewall.table, None);
    s.sync(&r, true);
    assert_eq!(s.firewall.table.as_ref(), Some(&r), "deleted: put back");
    // Someone changed it.
    s.firewall.table = Some(rules(&["10.99.0.0/16"], false));
    s.sync(&r, true);
    assert_eq!(s.firewall.table.as_ref(), Some(&r), "drifted: put back");
    assert_eq!(s.firewall.applies, 3);
}

#[test]
fn changed_rules_are_applied_at_once() {
    let mut s = RulesSync::new(FakeFirewall::default());
    s.sync(&rules(&["10.42.0.0/16"], true), false);
    let changed = rules(&["10.42.0.0/16"], false);
    let section = s.sync(&changed, false);
    assert_eq!(s.firewall.table.as_ref(), Some(&changed));
    assert_eq!(section.rules, Some(changed));
}

#[test]
fn a_refusal_is_the_sections_error_and_the_next_pass_retries() {
    let mut s = RulesSync::new(FakeFirewall {
        refuse: Some(libc::EPERM),
        ..FakeFirewall::default()
    });
    let r = rules(&["10.42.0.0/16"], true);
    let failed = s.sync(&r, false);
    let e = failed.error.as_deref().unwrap();
    assert_eq!(
        e,
        "applying the node rules (nftables table inet lichen): Operation not permitted (os error 1)"
    );
    assert!(!failed.settled());
    assert_eq!((failed.runs, failed.failed_runs), (1, 1));
    s.firewall.refuse = None;
    let ok = s.sync(&r, false);
    assert_eq!(
        s.firewall.table.as_ref(),
        Some(&r),
        "retried without a resync"
    );
    assert!(ok.error.is_none() && ok.settled());
    assert_eq!(ok.failed_runs, 1, "the counter keeps the failure");
}

#[test]
fn cleanup_removes_the_rules_and_names_its_step() {
    let mut s = RulesSync::new(FakeFirewall::default());
    let r = rules(&["10.42.0.0/16"], true);
    s.sync(&r, false);
    s.cleanup().unwrap();
    assert_eq!(s.firewall.table, None);
    s.firewall.refuse = Some(libc::EPERM);
    let e = s.cleanup().unwrap_err();
    assert!(matches!(e, RulesError::Remove(_)));
    assert!(
        chain(&e).to_string().starts_with("removing the node rules"),
        "{e:?}"
    );
    // After a cleanup the next pass applies again, unchanged or not.
    s.firewall.refuse = None;
    s.sync(&r, false);
    assert_eq!(s.firewall.table.as_ref(), Some(&r));
}
