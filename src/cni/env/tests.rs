use std::collections::HashMap;

use super::*;

fn env(vars: &[(&str, &str)]) -> Result<Env, CniError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Env::from_vars(|k| map.get(k).cloned())
}

const ADD: &[(&str, &str)] = &[
    ("CNI_COMMAND", "ADD"),
    ("CNI_CONTAINERID", "4f6c0e2a9b1d"),
    ("CNI_NETNS", "/var/run/netns/cni-1234"),
    ("CNI_IFNAME", "eth0"),
    ("CNI_PATH", "/opt/cni/bin::/usr/lib/cni"),
    (
        "CNI_ARGS",
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;\
         K8S_POD_INFRA_CONTAINER_ID=4f6c0e2a9b1d;K8S_POD_UID=9a1b-77;IP=10.42.1.7,fd00::7/64",
    ),
];

fn with(
    base: &[(&'static str, &'static str)],
    k: &'static str,
    v: &'static str,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<_> = base.iter().copied().filter(|(key, _)| *key != k).collect();
    out.push((k, v));
    out
}

fn without(base: &[(&'static str, &'static str)], k: &str) -> Vec<(&'static str, &'static str)> {
    base.iter().copied().filter(|(key, _)| *key != k).collect()
}

fn err4(vars: &[(&str, &str)], msg: &str) {
    let e = env(vars).unwrap_err();
    assert_eq!(e.code, Code::InvalidEnv as u32, "{}", e.msg);
    assert!(e.msg.contains(msg), "expected {msg:?} in {:?}", e.msg);
}

#[test]
fn add_reads_everything() {
    let e = env(ADD).unwrap();
    assert_eq!(e.command, Command::Add);
    assert_eq!(e.container_id(), "4f6c0e2a9b1d");
    assert_eq!(e.ifname(), "eth0");
    assert_eq!(e.netns, Some(PathBuf::from("/var/run/netns/cni-1234")));
    assert_eq!(
        e.path,
        vec![PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
    );
    assert_eq!(
        e.args,
        CniArgs {
            ignore_unknown: true,
            ips: vec!["10.42.1.7".parse().unwrap(), "fd00::7".parse().unwrap()],
            mac: None,
            k8s_pod_namespace: Some("default".into()),
            k8s_pod_name: Some("web-0".into()),
            k8s_pod_infra_container_id: Some("4f6c0e2a9b1d".into()),
            k8s_pod_uid: Some("9a1b-77".into()),
        }
    );
}

#[test]
fn per_verb_requirements() {
    // DEL: netns may be gone.
    let e = env(&with(&without(ADD, "CNI_NETNS"), "CNI_COMMAND", "DEL")).unwrap();
    assert_eq!((e.command, e.netns), (Command::Del, None));
    err4(
        &without(ADD, "CNI_NETNS"),
        "CNI_NETNS is not set: ADD needs the absolute path",
    );
    err4(
        &with(&without(ADD, "CNI_NETNS"), "CNI_COMMAND", "CHECK"),
        "CNI_NETNS is not set: CHECK needs",
    );
    // Empty counts as unset.
    err4(
        &with(ADD, "CNI_CONTAINERID", ""),
        "CNI_CONTAINERID is not set: ADD needs a container ID",
    );
    err4(
        &with(&without(ADD, "CNI_IFNAME"), "CNI_COMMAND", "DEL"),
        "CNI_IFNAME is not set: DEL needs an interface name",
    );
    // VERSION, STATUS: nothing else needed, junk elsewhere ignored.
    for cmd in ["VERSION", "STATUS"] {
        let e = env(&[
            ("CNI_COMMAND", cmd),
            ("CNI_IFNAME", "not/valid"),
            ("CNI_ARGS", "junk"),
        ])
        .unwrap();
        assert_eq!(e.command.as_str(), cmd);
        assert_eq!((e.container_id, e.ifname, e.netns), (None, None, None));
    }
    // GC needs CNI_PATH.
    let e = env(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/opt/cni/bin")]).unwrap();
    assert_eq!(e.path, vec![PathBuf::from("/opt/cni/bin")]);
    err4(
        &[("CNI_COMMAND", "GC")],
        "CNI_PATH is not set or empty: GC needs the plugin search path",
    );
    err4(&[("CNI_COMMAND", "GC"), ("CNI_PATH", ":")], "got \":\"");
}

#[test]
fn bad_values_are_code_4_with_what_to_fix() {
    err4(
        &[],
        "CNI_COMMAND is not set: set it to one of ADD, DEL, CHECK, VERSION, GC, STATUS",
    );
    err4(
        &with(ADD, "CNI_COMMAND", "add"),
        "CNI_COMMAND \"add\" is not a CNI command: expected one of ADD, DEL",
    );
    err4(
        &with(ADD, "CNI_CONTAINERID", "-abc"),
        "CNI_CONTAINERID \"-abc\" is not valid: expected a container ID: letters",
    );
    err4(&with(ADD, "CNI_CONTAINERID", "a/b"), "\"a/b\"");
    err4(
        &with(ADD, "CNI_NETNS", "run/netns/x"),
        "CNI_NETNS \"run/netns/x\" is not an absolute path: expected the absolute path",
    );
    err4(
        &with(ADD, "CNI_IFNAME", "eth0:1"),
        "CNI_IFNAME \"eth0:1\" is not valid: expected an interface name: 1-15 bytes",
    );
    err4(
        &with(ADD, "CNI_IFNAME", "averyverylongname"),
        "\"averyverylongname\"",
    );
    err4(
        &with(ADD, "CNI_ARGS", "K8S_POD_NAME=a;FOO=bar"),
        "CNI_ARGS key \"FOO\" is not known to lichen",
    );
    err4(
        &with(ADD, "CNI_ARGS", "FOO=bar"),
        "remove it or add IgnoreUnknown=1",
    );
    err4(
        &with(ADD, "CNI_ARGS", "K8S_POD_NAME=a;broken"),
        "CNI_ARGS pair \"broken\" is not KEY=VALUE",
    );
    err4(
        &with(ADD, "CNI_ARGS", "=v"),
        "CNI_ARGS pair \"=v\" is not KEY=VALUE",
    );
    err4(
        &with(ADD, "CNI_ARGS", "IP=10.42.1"),
        "CNI_ARGS IP \"10.42.1\" is not an IP address",
    );
    err4(
        &with(ADD, "CNI_ARGS", "IgnoreUnknown=yes"),
        "IgnoreUnknown=\"yes\" is not a boolean: expected 1, 0, true or false",
    );
}

#[test]
fn cni_args_ignore_unknown_anywhere() {
    let e = env(&with(
        ADD,
        "CNI_ARGS",
        "FOO=bar;IgnoreUnknown=true;K8S_POD_NAME=x;",
    ))
    .unwrap();
    assert!(e.args.ignore_unknown);
    assert_eq!(e.args.k8s_pod_name.as_deref(), Some("x"));
    err4(&with(ADD, "CNI_ARGS", "FOO=bar;IgnoreUnknown=0"), "\"FOO\"");
}

#[test]
fn ifname_rules() {
    for ok in ["eth0", "a", "net1", "fifteen_chars_x", "é"] {
        assert!(valid_ifname(ok), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        "sixteen_chars_xx",
        "a/b",
        "a:b",
        "a b",
        "a\tb",
        "a\0b",
        "a\u{a0}b",
    ] {
        assert!(!valid_ifname(bad), "{bad:?}");
    }
}

#[test]
fn container_id_rules() {
    for ok in ["a", "0", "4f6c0e2a9b1d", "pod_1.x-y", &"a".repeat(1024)] {
        assert!(valid_container_id(ok), "{ok}");
    }
    for bad in [
        "",
        "-a",
        "_a",
        ".a",
        "a b",
        "a/b",
        "a:b",
        "é",
        &"a".repeat(1025),
    ] {
        assert!(!valid_container_id(bad), "{bad:?}");
    }
}
