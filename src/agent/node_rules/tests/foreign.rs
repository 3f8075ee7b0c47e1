//! Our accepts in other tables' forward chains, as `nft` and `iptables-nft` see them: at the
//! head, replaced not duplicated, removed without touching anything else.

use crate::agent::node_rules::foreign::MARK;
use crate::agent::node_rules::*;
use crate::nft::*;
use testkit::nft::{fresh_netns, nft, nft_script, run_here};

/// iptables-nft's tables as `iptables -P FORWARD DROP` makes them, plus a rule of theirs, a
/// rule commented "lichen" that is not ours, and another tool's inet table.
const OTHERS: &str = r#"
table ip filter {
    chain FORWARD { type filter hook forward priority 0; policy drop;
        ip saddr 10.9.0.0/16 accept
        ip daddr 10.42.0.0/16 tcp dport 22 drop comment "lichen"
    }
    chain INPUT { type filter hook input priority 0; policy drop; }
}
table ip6 filter {
    chain FORWARD { type filter hook forward priority 0; policy drop; }
}
table inet fw {
    chain through { type filter hook forward priority 10; policy accept; ip protocol icmp drop; }
    chain plain { ip saddr 10.42.0.0/16 accept; }
}
"#;

fn rules(cluster: &[&str]) -> NodeRules {
    NodeRules {
        cluster: cluster.iter().map(|c| c.parse().unwrap()).collect(),
        masquerade: true,
    }
}

fn ours(rule: &str) -> String {
    format!("{rule} accept comment \"{MARK}\"")
}

/// The rule lines of an `nft list chain` output.
fn rule_lines(listing: &str) -> Vec<String> {
    listing
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('{') && l != &"}" && !l.starts_with('#'))
        .filter(|l| !l.starts_with("type "))
        .map(str::to_owned)
        .collect()
}

fn chain(spec: &str) -> Vec<String> {
    rule_lines(&nft(&format!("list chain {spec}")))
}

#[test]
fn accepts_go_first_in_every_foreign_forward_chain_and_nowhere_else() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    nft_script(OTHERS);
    let before = nft("list ruleset");
    let (fw_before, in_before) = (chain("ip filter FORWARD"), chain("ip filter INPUT"));
    apply_node_rules(&rules(&["10.42.0.0/16", "fd42::/64"])).unwrap();

    let mut want = vec![ours("ip saddr 10.42.0.0/16"), ours("ip daddr 10.42.0.0/16")];
    want.extend(fw_before.iter().cloned());
    assert_eq!(chain("ip filter FORWARD"), want);
    assert!(nft("list chain ip filter FORWARD").contains("policy drop;"));
    assert_eq!(chain("ip filter INPUT"), in_before);
    let v6 = [ours("ip6 saddr fd42::/64"), ours("ip6 daddr fd42::/64")];
    assert_eq!(chain("ip6 filter FORWARD"), v6);
    let fwd = chain("inet fw through");
    assert_eq!(fwd.len(), 5, "{fwd:?}");
    assert_eq!(fwd[0], ours("ip saddr 10.42.0.0/16"));
    assert_eq!(fwd[3], ours("ip6 daddr fd42::/64"));
    assert_eq!(chain("inet fw plain"), ["ip saddr 10.42.0.0/16 accept"]);

    let found = foreign_forward_chains().unwrap();
    let summary: Vec<_> = found
        .iter()
        .map(|c| {
            (
                c.table.to_string(),
                c.name.as_str(),
                c.policy.clone(),
                c.ours.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ip filter".into(), "FORWARD", Verdict::Drop, 2),
            ("ip6 filter".into(), "FORWARD", Verdict::Drop, 2),
            ("inet fw".into(), "through", Verdict::Accept, 4),
        ]
    );

    remove_lichen_table().unwrap();
    assert_eq!(nft("list ruleset"), before);
}

#[test]
fn reapplying_keeps_one_copy_and_a_new_cidr_replaces_the_old() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    nft_script(OTHERS);
    let theirs = chain("ip filter FORWARD");
    let r = rules(&["10.42.0.0/16"]);
    apply_node_rules(&r).unwrap();
    let once = nft("list ruleset");
    apply_node_rules(&r).unwrap();
    assert_eq!(nft("list ruleset"), once);

    apply_node_rules(&rules(&["10.99.0.0/16"])).unwrap();
    let mut want = vec![ours("ip saddr 10.99.0.0/16"), ours("ip daddr 10.99.0.0/16")];
    want.extend(theirs.iter().cloned());
    assert_eq!(chain("ip filter FORWARD"), want);
    assert!(chain("ip6 filter FORWARD").is_empty());

    // A rule someone put before ours: ours move back to the head on the next apply.
    nft("insert rule ip filter FORWARD ip saddr 10.7.0.0/16 drop");
    apply_node_rules(&rules(&["10.99.0.0/16"])).unwrap();
    assert_eq!(chain("ip filter FORWARD")[..2], want[..2]);
    assert_eq!(chain("ip filter FORWARD").len(), want.len() + 1);
}

/// `iptables-save | iptables-restore` turns our comment into iptables' comment match; those
/// rules are still recognised as ours.
#[test]
fn iptables_nft_reads_our_rules_and_its_round_trip_keeps_them_ours() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    let policy = run_here("iptables", &["-P", "FORWARD", "DROP"], "");
    assert!(policy.status.success(), "iptables -P: {policy:?}");
    let r = rules(&["10.42.0.0/16"]);
    apply_node_rules(&r).unwrap();

    let listed = run_here("iptables", &["-S", "FORWARD"], "");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{stderr}");
    let comment = format!("-m comment --comment \"{MARK}\" -j ACCEPT");
    let want = format!(
        "-P FORWARD DROP\n-A FORWARD -s 10.42.0.0/16 {comment}\n-A FORWARD -d 10.42.0.0/16 {comment}\n"
    );
    assert_eq!(stdout, want, "stderr: {stderr}");
    assert_eq!(stderr, "", "iptables-nft warns about our rules");

    let saved = run_here("iptables-save", &[], "");
    assert!(saved.status.success());
    let restored = run_here(
        "iptables-restore",
        &[],
        &String::from_utf8_lossy(&saved.stdout),
    );
    assert!(restored.status.success(), "{restored:?}");
    assert!(!nft("list chain ip filter FORWARD").contains("comment \""));
    assert_eq!(foreign_forward_chains().unwrap()[0].ours.len(), 2);

    apply_node_rules(&r).unwrap();
    let listed = run_here("iptables", &["-S", "FORWARD"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), want);
    remove_lichen_table().unwrap();
    let listed = run_here("iptables", &["-S", "FORWARD"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "-P FORWARD DROP\n");
}

#[test]
fn a_batch_read_at_an_old_generation_is_refused() {
    testkit::require_root!();
    if testkit::skip_emulated("qemu-user does not translate NETLINK_NETFILTER") {
        return;
    }
    fresh_netns();
    let sock = Socket::open().unwrap();
    let genid = generation(&sock).unwrap();
    nft("add table ip other");
    assert_ne!(generation(&sock).unwrap(), genid);

    let mut batch = Batch::checked(genid);
    batch.add_table(&Table::new(Family::Ip, "late"));
    let err = sock.apply(&batch).unwrap_err();
    let kernel = err.get_ref().unwrap().downcast_ref::<KernelError>();
    assert_eq!(kernel.unwrap().errno, libc::ERESTART, "{err}");
    assert_eq!(nft("list tables").trim(), "table ip other");

    let mut batch = Batch::checked(generation(&sock).unwrap());
    batch.add_table(&Table::new(Family::Ip, "late"));
    sock.apply(&batch).unwrap();
}
