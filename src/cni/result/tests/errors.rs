//! Results that are refused: too old or unknown versions (code 1) and malformed ones (code 6),
//! each with a message naming the member at fault.

use super::super::CniResult;
use crate::cni::{CniError, Code};

fn err(doc: &str) -> CniError {
    CniResult::parse(doc.as_bytes()).unwrap_err()
}

#[test]
fn old_and_unknown_versions_are_code_1() {
    let e = err(r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24"}}"#);
    assert_eq!(e.code, Code::IncompatibleVersion as u32);
    assert!(e.msg.contains("0.1.0/0.2.0 format"), "{}", e.msg);
    assert!(e.msg.contains("0.3.0 or newer"), "{}", e.msg);
    let e = err(r#"{"ip4":{"ip":"10.1.0.2/24"}}"#);
    assert_eq!(e.code, 1);
    assert!(e.msg.starts_with("ip4 is present"), "{}", e.msg);
    let e = err(r#"{"cniVersion":"9.9.9","ips":[]}"#);
    assert_eq!(e.code, 1);
    assert_eq!(
        e.msg,
        "cniVersion \"9.9.9\" is not supported: use one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
    );
}

#[test]
fn malformed_results_are_code_6() {
    let cases = [
        (
            r#"{"ips":[{"address":"10.1.0.2/24"}"#,
            "CNI result is not valid JSON",
        ),
        (r#"["ips"]"#, "the document must be a JSON object"),
        (r#"{"ips":{"address":"10.1.0.2"}}"#, "ips must be a list of"),
        (
            r#"{"ips":[{"address":"10.1.0.2"}]}"#,
            r#"ips[0].address "10.1.0.2" is not an address with a prefix length"#,
        ),
        (
            r#"{"ips":[{"gateway":"10.1.0.1"}]}"#,
            "ips[0].address is missing",
        ),
        (
            r#"{"ips":[{"address":"10.1.0.2/24","gateway":"10.1.0"}]}"#,
            r#"ips[0].gateway "10.1.0" is not an IP address"#,
        ),
        (
            r#"{"ips":[{"address":"10.1.0.2/24","interface":0}]}"#,
            "ips[0].interface 0 does not index the 0 entries of interfaces",
        ),
        (
            r#"{"routes":[{"dst":"default"}]}"#,
            r#"routes[0].dst "default" is not a CIDR"#,
        ),
        (
            r#"{"routes":[{"gw":"10.1.0.1"}]}"#,
            "routes[0].dst is missing",
        ),
        (
            r#"{"dns":{"nameservers":"10.0.0.1"}}"#,
            "dns must be an object",
        ),
        (
            r#"{"interfaces":[{"name":7}]}"#,
            "interfaces must be a list of",
        ),
    ];
    for (doc, msg) in cases {
        let e = err(doc);
        assert_eq!(e.code, Code::Decode as u32, "{doc}");
        assert!(e.msg.starts_with(msg), "{doc}: {}", e.msg);
    }
    let e = CniResult::parse_at(br#"{"ips":[{"address":"x"}]}"#, "prevResult").unwrap_err();
    assert!(
        e.msg.starts_with(r#"prevResult.ips[0].address "x""#),
        "{}",
        e.msg
    );
}
