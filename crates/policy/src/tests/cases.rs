//! One test per semantic item, as reachability cells on the node that enforces them: isolation
//! and rules here, peers and where each direction is enforced in `peers.rs` (over the same
//! [`base`] cluster).

use super::*;
use crate::{Direction, Origin, PolicyId, Step};

pub const WEB: &str = "10.42.1.10"; // prod/web on n1
pub const DB: &str = "10.42.1.11"; // prod/db on n1
pub const API: &str = "10.42.2.10"; // prod/api on n2
pub const DEV_WEB: &str = "10.42.2.20"; // dev/web on n2
pub const PROM: &str = "10.42.2.30"; // mon/prom on n2
pub const OUTSIDE: &str = "203.0.113.5";

pub fn base() -> ClusterState {
    let mut s = cluster();
    ns(&mut s, "prod", &[("env", "prod")]);
    ns(&mut s, "dev", &[("env", "dev")]);
    ns(&mut s, "mon", &[("team", "monitoring")]);
    pod(&mut s, "prod/web", "n1", WEB, &[("app", "web")]);
    pod(&mut s, "prod/db", "n1", DB, &[("app", "db")]);
    pod(&mut s, "prod/api", "n2", API, &[("app", "api")]);
    pod(&mut s, "dev/web", "n2", DEV_WEB, &[("app", "web")]);
    pod(&mut s, "mon/prom", "n2", PROM, &[("app", "prom")]);
    s
}

#[test]
fn without_policies_everything_passes_and_nothing_is_isolated() {
    let s = base();
    check(
        &s,
        "n1",
        &[(API, WEB, 80, TCP, true), (WEB, OUTSIDE, 443, TCP, true)],
    );
    let rs = compile(&s, "n1");
    assert!(rs
        .pods
        .values()
        .all(|p| p.ingress.is_none() && p.egress.is_none()));
    assert_eq!(rs.pods.len(), 2);
    let e = rs.explain(crate::Packet {
        src: ip(API),
        dst: ip(WEB),
        protocol: TCP,
        port: 80,
    });
    assert_eq!((e.egress, e.ingress), (Step::NotLocal, Step::NotIsolated));
}

#[test]
fn ingress_deny_all_with_empty_or_absent_rules() {
    for spec in [
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"ingress":[]}"#,
        r#"{"podSelector":{"matchLabels":{"app":"db"}},"policyTypes":["Ingress"]}"#,
    ] {
        let mut s = base();
        policy(&mut s, "prod/deny", spec);
        check(
            &s,
            "n1",
            &[
                (WEB, DB, 5432, TCP, false),
                (API, DB, 5432, TCP, false),
                (API, WEB, 80, TCP, true), // web is not selected
                (DB, WEB, 80, TCP, true),  // db is not isolated for egress
                (DB, OUTSIDE, 53, UDP, true),
            ],
        );
        let e = crate::explain(&s, "n1", ip(WEB), ip(DB), 5432, TCP);
        let deny = PolicyId {
            namespace: "prod".into(),
            name: "deny".into(),
        };
        assert_eq!(
            e.ingress,
            Step::Denied(Origin::DefaultDeny {
                direction: Direction::Ingress,
                policies: vec![deny]
            })
        );
        assert_eq!(e.egress, Step::NotIsolated);
    }
}

#[test]
fn allow_all_rule_and_empty_selector() {
    let mut s = base();
    policy(
        &mut s,
        "prod/deny-all",
        r#"{"podSelector":{},"policyTypes":["Ingress","Egress"]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (API, WEB, 80, TCP, false),
            (WEB, OUTSIDE, 80, TCP, false),
            (WEB, DB, 1, TCP, false),
        ],
    );
    policy(
        &mut s,
        "prod/allow-in",
        r#"{"podSelector":{},"ingress":[{}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (API, WEB, 80, TCP, true),
            (PROM, DB, 9, UDP, true),
            (WEB, DB, 1, TCP, false),
        ],
    );
    policy(
        &mut s,
        "prod/allow-out",
        r#"{"podSelector":{},"egress":[{}],"policyTypes":["Egress"]}"#,
    );
    check(
        &s,
        "n1",
        &[(WEB, DB, 1, TCP, true), (WEB, OUTSIDE, 80, TCP, true)],
    );
}

#[test]
fn egress_types_implied_and_explicit() {
    // Egress rules and no policyTypes: isolated both ways (ingress with no rules: deny).
    let mut s = base();
    policy(
        &mut s,
        "prod/out",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},
        "egress":[{"to":[{"podSelector":{"matchLabels":{"app":"db"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (WEB, DB, 5432, TCP, true),
            (WEB, API, 80, TCP, false),
            (WEB, OUTSIDE, 443, TCP, false),
            (API, WEB, 80, TCP, false),
            (DB, API, 80, TCP, true),
        ],
    );
    // Only Egress listed: ingress stays open.
    let mut s = base();
    policy(
        &mut s,
        "prod/out",
        r#"{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"],
        "egress":[{"to":[{"podSelector":{"matchLabels":{"app":"db"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (WEB, DB, 5432, TCP, true),
            (WEB, API, 80, TCP, false),
            (API, WEB, 80, TCP, true),
        ],
    );
    // Egress listed with no rules: egress deny-all.
    let mut s = base();
    policy(
        &mut s,
        "prod/out",
        r#"{"podSelector":{},"policyTypes":["Egress"]}"#,
    );
    check(
        &s,
        "n1",
        &[(WEB, DB, 1, TCP, false), (API, WEB, 80, TCP, true)],
    );
}

#[test]
fn allowed_is_the_union_of_selecting_policies() {
    let mut s = base();
    policy(
        &mut s,
        "prod/from-api",
        r#"{"podSelector":{"matchLabels":{"app":"db"}},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"api"}}}],"ports":[{"port":5432}]}]}"#,
    );
    policy(
        &mut s,
        "prod/from-web",
        r#"{"podSelector":{"matchExpressions":[{"key":"app","operator":"Exists"}]},
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"web"}}}]}]}"#,
    );
    check(
        &s,
        "n1",
        &[
            (API, DB, 5432, TCP, true),
            (API, DB, 80, TCP, false),
            (WEB, DB, 80, TCP, true),
            (PROM, DB, 5432, TCP, false),
            (API, WEB, 80, TCP, false), // web: only from-web selects it
            (WEB, WEB, 80, TCP, true),
        ],
    );
    let rs = compile(&s, "n1");
    let db = &rs.pods[&("prod".into(), "db".into())];
    assert_eq!(db.ingress.as_ref().unwrap().len(), 2);
    assert_eq!(db.egress, None);
    let e = rs.explain(crate::Packet {
        src: ip(API),
        dst: ip(DB),
        protocol: TCP,
        port: 5432,
    });
    assert!(
        matches!(&e.ingress, Step::Allowed(Origin::PolicyRule { policy, rule: 0, .. }) if policy.name == "from-api")
    );
}
