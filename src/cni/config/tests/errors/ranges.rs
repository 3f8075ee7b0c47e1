//! Bad IPAM ranges, one at a time: subnets the spec or the kernel refuses, special ranges,
//! and gateways and bounds outside the subnet or in the wrong order.

use super::{assert_code_7, range};

/// One range at a time: subnets the spec or the kernel refuses.
#[test]
fn bad_range_subnets_are_code_7() {
    assert_code_7(vec![
        (
            range(r#"{"subnet":"10.0.0.0/33"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.0/33" is not a CIDR (like 10.42.0.0/16 or fd00:42::/48)"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.5/24"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.5/24" has host bits set: use the network address, 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/31"}"#),
            r#"ipam.ranges[0][0].subnet "10.0.0.0/31" is too small to allocate from"#,
        ),
        (
            range(r#"{"subnet":"fd00::/127"}"#),
            r#"ipam.ranges[0][0].subnet "fd00::/127" is too small"#,
        ),
    ]);
}

/// One range at a time: special ranges, not unicast pod addresses (issue 11, hole 7), in both
/// directions.
#[test]
fn special_range_subnets_are_code_7() {
    assert_code_7(vec![
        (
            range(r#"{"subnet":"127.0.0.0/8"}"#),
            r#"ipam.ranges[0][0].subnet "127.0.0.0/8" overlaps 127.0.0.0/8, the loopback range: pod subnets must be unicast"#,
        ),
        (
            range(r#"{"subnet":"127.1.2.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "127.1.2.0/24" overlaps 127.0.0.0/8, the loopback range"#,
        ),
        (
            range(r#"{"subnet":"224.0.0.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "224.0.0.0/24" overlaps 224.0.0.0/4, the multicast range"#,
        ),
        (
            range(r#"{"subnet":"0.0.0.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "0.0.0.0/24" overlaps 0.0.0.0/8"#,
        ),
        (
            range(r#"{"subnet":"169.254.7.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "169.254.7.0/24" overlaps 169.254.0.0/16, the link-local range"#,
        ),
        (
            range(r#"{"subnet":"255.255.255.0/24"}"#),
            r#"ipam.ranges[0][0].subnet "255.255.255.0/24" overlaps 255.255.255.255/32, the limited broadcast address"#,
        ),
        (
            range(r#"{"subnet":"::/64"}"#),
            r#"ipam.ranges[0][0].subnet "::/64" overlaps ::/128, the unspecified address"#,
        ),
        (
            range(r#"{"subnet":"::/0"}"#),
            r#"ipam.ranges[0][0].subnet "::/0" overlaps ::/128"#,
        ),
        (
            range(r#"{"subnet":"fe80::/64"}"#),
            r#"ipam.ranges[0][0].subnet "fe80::/64" overlaps fe80::/10, the link-local range"#,
        ),
        (
            range(r#"{"subnet":"ff02::/64"}"#),
            r#"ipam.ranges[0][0].subnet "ff02::/64" overlaps ff00::/8, the multicast range"#,
        ),
    ]);
}

/// One range at a time: gateways and bounds outside the subnet or in the wrong order.
#[test]
fn bad_range_bounds_are_code_7() {
    assert_code_7(vec![
        (
            range(r#"{"gateway":"10.0.0.1"}"#),
            "ipam.ranges[0][0].subnet is missing: every range needs one",
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.255"}"#),
            r#"ipam.ranges[0][0].gateway "10.0.0.255" is the broadcast address of 10.0.0.0/24: a gateway must be a host address (leave it out for the first one, 10.0.0.1)"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.5"}"#),
            r#"ipam.ranges[0][0].rangeStart "10.0.1.5" is not inside the subnet 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeEnd":"fd00::5"}"#),
            r#"ipam.ranges[0][0].rangeEnd "fd00::5" is not inside the subnet 10.0.0.0/24"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.0.0.x"}"#),
            r#"ipam.ranges[0][0].gateway "10.0.0.x" is not an IP address"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","gateway":"10.9.0.1"}"#),
            r#"ipam.ranges[0][0].gateway "10.9.0.1" is not inside the subnet"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50","rangeEnd":"10.0.0.20"}"#),
            r#"ipam.ranges[0][0].rangeEnd "10.0.0.20" is before rangeStart 10.0.0.50: swap them"#,
        ),
        (
            range(r#"{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}"#),
            r#"ipam.ranges[0][1].subnet "fd00::/64" is not the same IP family as ipam.ranges[0][0].subnet 10.0.0.0/24"#,
        ),
    ]);
}
