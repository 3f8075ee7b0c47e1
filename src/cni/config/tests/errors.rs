//! Bad configs: the code each gets (1 version, 6 JSON, 7 a field) and a message that starts
//! with what to fix. Bad ranges are in `ranges`.

use super::*;

mod ranges;

fn err(doc: &str) -> CniError {
    NetConf::parse(doc.as_bytes()).unwrap_err()
}

/// A config with `extra` members added to a valid minimal one.
fn with(extra: &str) -> String {
    format!(r#"{{"cniVersion":"1.0.0","type":"lichen",{extra}}}"#)
}

fn with_name(extra: &str) -> String {
    with(&format!(r#""name":"n",{extra}"#))
}

#[test]
fn an_unknown_mode_says_which_there_are() {
    let e = err(&with_name(r#""mode":"l3""#));
    assert_eq!(e.code, 7);
    assert_eq!(
        e.msg,
        r#"mode "l3" is not a mode: use "routed" (no bridge: a host route per pod), "bridge" (pods on the node's bridge: L2 between them) or leave it out (routed, unless the node's bridge still has pods)"#
    );
    assert_eq!(err(&with_name(r#""mode":1"#)).code, 7);
}

#[test]
fn broken_json_is_code_6() {
    let e = err("{\"cniVersion\":\"1.0.0\",\n\"name\":\"n\"\n\"type\":\"lichen\"}");
    assert_eq!(e.code, 6);
    assert_eq!(
        e.msg,
        "network config is not valid JSON: expected ',' or '}' after an object member at line 3, column 1"
    );
    let e = err("[]");
    assert_eq!(
        (e.code, e.msg.as_str()),
        (
            6,
            "network config: the document must be a JSON object {...}; got []"
        )
    );
    assert_eq!(err("").code, 6);
    assert_eq!(
        NetConf::peek_version(b"{\"cniVersion\": \"0.4.0\", broken"),
        "0.4.0"
    );
    assert_eq!(
        NetConf::peek_version(b"{\"cniVersion\": \"7.0.0\"}"),
        "1.1.0"
    );
    assert_eq!(NetConf::peek_version(b"garbage"), "1.1.0");
}

#[test]
fn bad_versions_are_code_1() {
    let supported = "lichen supports cniVersion 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0";
    for (doc, start) in [
        (
            r#"{"name":"n","type":"lichen"}"#.to_string(),
            "cniVersion is missing: ",
        ),
        (
            r#"{"cniVersion":"0.2.0","name":"n","type":"lichen"}"#.to_string(),
            "cniVersion \"0.2.0\" is not supported: ",
        ),
        (
            r#"{"cniVersion":1.0,"name":"n","type":"lichen"}"#.to_string(),
            "cniVersion 1.0 is not a string: ",
        ),
    ] {
        let e = err(&doc);
        assert_eq!(e.code, 1, "{doc}");
        assert!(e.msg.starts_with(start), "{}", e.msg);
        assert!(e.msg.contains(supported), "{}", e.msg);
    }
}

/// Every case: code 7 and a message that starts with the field and its value.
fn assert_code_7(cases: Vec<(String, &str)>) {
    for (doc, start) in cases {
        let e = err(&doc);
        assert_eq!(e.code, 7, "{doc}: {}", e.msg);
        assert!(
            e.msg.starts_with(start),
            "{doc}\n  want: {start}\n  got:  {}",
            e.msg
        );
    }
}

fn ipam(inner: &str) -> String {
    with_name(&format!(r#""ipam":{{{inner}}}"#))
}

fn range(r: &str) -> String {
    ipam(&format!(r#""ranges":[[{r}]]"#))
}

/// The network name (the spec's grammar) and the plugin type.
#[test]
fn bad_names_and_missing_type_are_code_7() {
    assert_code_7(vec![
        (
            r#"{"cniVersion":"1.0.0","type":"lichen"}"#.into(),
            "name is missing: give the network a name",
        ),
        (
            with(r#""name":"""#),
            r#"name "" is empty: use 1-255 letters, digits"#,
        ),
        (
            with(r#""name":".""#),
            r#"name "." does not start with a letter or digit"#,
        ),
        (
            with(r#""name":"..""#),
            r#"name ".." does not start with a letter or digit"#,
        ),
        (with(r#""name":"a/b""#), r#"name "a/b" contains '/'"#),
        (with(r#""name":"a\u0000b""#), r#"name "a\0b" contains '\0'"#),
        // The spec's grammar, as libcni checks it: no newline, space, or other punctuation.
        (
            with(r#""name":"new\nline""#),
            r#"name "new\nline" contains '\n': use 1-255 letters"#,
        ),
        (with(r#""name":"a b""#), r#"name "a b" contains ' '"#),
        (with(r#""name":"a&b""#), r#"name "a&b" contains '&'"#),
        (with(r#""name":"é""#), r#"name "é" does not start"#),
        (with(r#""name":"-x""#), r#"name "-x" does not start"#),
        (
            with(&format!(r#""name":"{}""#, "x".repeat(256))),
            "name \"xxx",
        ),
        (with(r#""name":7"#), "name must be a string; got 7"),
        (
            r#"{"cniVersion":"1.0.0","name":"n"}"#.into(),
            "type is missing: it names the plugin",
        ),
        (
            with_name(r#""cni.dev/attachments":[{"containerID":"a"}]"#),
            "cni.dev/attachments[0].containerID/ifname is missing",
        ),
    ]);
}

/// The plugin's own fields: bridge, mtu, flags, log and subnet file paths.
#[test]
fn bad_plugin_fields_are_code_7() {
    assert_code_7(vec![
        (
            with_name(r#""bridge":"br:0""#),
            r#"bridge "br:0" is not a valid interface name"#,
        ),
        (
            with_name(r#""bridge":"averyveryverylongbridge""#),
            r#"bridge "averyveryverylongbridge""#,
        ),
        (
            with_name(r#""mtu":67"#),
            "mtu 67 is out of range: use 68 to 65535 (like 1450)",
        ),
        (with_name(r#""mtu":65536"#), "mtu 65536 is out of range"),
        (
            with_name(r#""mtu":"1500""#),
            r#"mtu must be an integer from 68 to 65535; got "1500""#,
        ),
        (
            with_name(r#""mtu":-1"#),
            "mtu must be an integer from 68 to 65535; got -1",
        ),
        (
            with_name(r#""hairpinMode":"yes""#),
            r#"hairpinMode must be true or false; got "yes""#,
        ),
        (
            with_name(r#""isDefaultGateway":1"#),
            "isDefaultGateway must be true or false; got 1",
        ),
        (
            with_name(r#""logLevel":"loud""#),
            r#"logLevel "loud" is not a log level: use one of error, warn, info, debug, trace"#,
        ),
        (
            with_name(r#""subnetFile":"run/subnet.env""#),
            r#"subnetFile "run/subnet.env" is not an absolute path"#,
        ),
        (
            with_name(r#""logFile":"""#),
            r#"logFile "" is not an absolute path"#,
        ),
    ]);
}

/// The ipam object: its type, the shape of ranges, legacy fields, routes, dataDir.
#[test]
fn bad_ipam_fields_are_code_7() {
    assert_code_7(vec![
        (
            with_name(r#""ipam":[]"#),
            "ipam must be a JSON object {...}; got []",
        ),
        (ipam(r#""type":5"#), "ipam.type must be a string; got 5"),
        (
            ipam(r#""ranges":[{"subnet":"10.0.0.0/24"}]"#),
            "ipam.ranges must be a list of range sets like [[",
        ),
        (
            ipam(r#""subnet":"0.0.0.0/0""#),
            r#"ipam.subnet "0.0.0.0/0" overlaps 0.0.0.0/8, the "this network" range"#,
        ),
        (
            ipam(r#""ranges":[[{"subnet":"10.0.0.0/24"}],[]]"#),
            r#"ipam.ranges[1] "[]" is an empty range set"#,
        ),
        (
            ipam(r#""ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.128/25"}]]"#),
            r#"ipam.ranges[1][0].subnet "10.0.0.128/25" overlaps ipam.ranges[0][0].subnet 10.0.0.0/24"#,
        ),
        (
            ipam(r#""subnet":"10.0.0.0/16","ranges":[[{"subnet":"10.0.5.0/24"}]]"#),
            r#"ipam.ranges[0][0].subnet "10.0.5.0/24" overlaps ipam.subnet 10.0.0.0/16"#,
        ),
        (
            ipam(r#""rangeStart":"10.0.0.5""#),
            "ipam.subnet is missing: ipam.rangeStart is given without it",
        ),
        (
            ipam(r#""subnet":"10.0.0.0""#),
            r#"ipam.subnet "10.0.0.0" is not a CIDR"#,
        ),
        (
            ipam(r#""routes":[{"dst":"default"}]"#),
            r#"ipam.routes[0].dst "default" is not a CIDR"#,
        ),
        (
            ipam(r#""routes":[{"gw":"10.0.0.1"}]"#),
            "ipam.routes[0].dst is missing",
        ),
        (
            ipam(r#""routes":[{"dst":"0.0.0.0/0","gw":"gateway"}]"#),
            r#"ipam.routes[0].gw "gateway" is not an IP address"#,
        ),
        (
            ipam(r#""routes":{"dst":"0.0.0.0/0"}"#),
            "ipam.routes must be a list of",
        ),
        (
            ipam(r#""dataDir":"var/lib""#),
            r#"ipam.dataDir "var/lib" is not an absolute path"#,
        ),
    ]);
}

/// runtimeConfig, args and the attachments GC and STATUS get.
#[test]
fn bad_runtime_config_and_args_are_code_7() {
    assert_code_7(vec![
        (
            with_name(r#""runtimeConfig":{"ips":["10.42.1.300"]}"#),
            r#"runtimeConfig.ips[0] "10.42.1.300" is not an IP address"#,
        ),
        (
            with_name(r#""runtimeConfig":{"ips":"10.42.1.3"}"#),
            r#"runtimeConfig.ips must be a list of strings like ["10.42.1.7/24"]; got "10.42.1.3""#,
        ),
        (
            with_name(r#""args":{"cni":{"ips":["x"]}}"#),
            r#"args.cni.ips[0] "x" is not an IP address"#,
        ),
        (
            with_name(r#""args":{"cni":[]}"#),
            "args.cni must be a JSON object",
        ),
        (
            with_name(r#""cni.dev/valid-attachments":{}"#),
            "cni.dev/valid-attachments must be a list of {\"containerID\"",
        ),
    ]);
}

#[test]
fn broken_prev_result_is_code_6_naming_it() {
    for (prev, start) in [
        (r#"5"#, "prevResult must be a JSON object {...}; got 5"),
        (
            r#"{"ips":[{"address":"10.1.0.2"}]}"#,
            r#"prevResult.ips[0].address "10.1.0.2" is not an address with a prefix length"#,
        ),
        (
            r#"{"ips":[{"address":"10.1.0.2/24","interface":3}]}"#,
            "prevResult.ips[0].interface 3 does not index",
        ),
        (
            r#"{"routes":"none"}"#,
            "prevResult.routes must be a list of",
        ),
    ] {
        let e = err(&with_name(&format!(r#""prevResult":{prev}"#)));
        assert_eq!(e.code, 6, "{}", e.msg);
        assert!(e.msg.starts_with(start), "{}", e.msg);
    }
    let e = err(&with_name(
        r#""prevResult":{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24"}}"#,
    ));
    assert_eq!(e.code, 1);
    assert!(
        e.msg
            .starts_with("prevResult.cniVersion \"0.2.0\": results in the 0.1.0/0.2.0 format"),
        "{}",
        e.msg
    );
}

#[test]
fn address_of_keeps_the_address() {
    assert_eq!(address_of("10.1.2.3/24"), Some(ip("10.1.2.3")));
    assert_eq!(address_of("fd00::3"), Some(ip("fd00::3")));
    assert_eq!(address_of("10.1.2.3/33"), None);
    assert_eq!(address_of("host"), None);
}
