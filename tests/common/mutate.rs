//! Mutations of a plugin invocation for the fuzz (tests/fuzz.rs): a config as members (so a
//! key can get a wrong type or a bad value), byte-level changes of its text, and environment
//! changes (mutate/env.rs). Each returns a label for the report.
#![allow(dead_code)]

use std::path::Path;

use super::raw::Rng;

pub mod env;

/// A config as members, rendered with `ipam.dataDir` first: byte-level mutations never touch
/// that prefix, so no mutation can send the plugin to the host's default dataDir.
pub struct Conf {
    data_dir: String,
    ipam: Vec<(String, String)>,
    top: Vec<(String, String)>,
}

impl Conf {
    pub fn base(data_dir: &Path) -> Conf {
        let m = |k: &str, v: &str| (k.to_string(), v.to_string());
        Conf {
            data_dir: data_dir.display().to_string(),
            ipam: vec![
                m(
                    "ranges",
                    r#"[[{"subnet":"10.77.0.0/24","rangeStart":"10.77.0.10","rangeEnd":"10.77.0.200","gateway":"10.77.0.1"}]]"#,
                ),
                m("routes", r#"[{"dst":"10.88.0.0/16"}]"#),
            ],
            top: vec![
                m("cniVersion", r#""1.1.0""#),
                m("name", r#""net-fuzz""#),
                m("type", r#""lichen""#),
                m("mode", r#""bridge""#),
                m("bridge", r#""lbr0""#),
                m("mtu", "1400"),
                m("hairpinMode", "true"),
                m("isDefaultGateway", "true"),
                m(
                    "cni.dev/valid-attachments",
                    r#"[{"containerID":"keep","ifname":"eth0"}]"#,
                ),
            ],
        }
    }

    /// The rendered text and the length of the protected prefix.
    pub fn render(&self) -> (Vec<u8>, usize) {
        let mut s = format!(r#"{{"ipam":{{"dataDir":"{}""#, self.data_dir);
        let protected = s.len();
        for (k, v) in &self.ipam {
            s += &format!(r#","{k}":{v}"#);
        }
        s += "}";
        for (k, v) in &self.top {
            s += &format!(r#","{k}":{v}"#);
        }
        s += "}";
        (s.into_bytes(), protected)
    }

    pub fn set(&mut self, ipam: bool, key: &str, value: String) {
        let list = if ipam { &mut self.ipam } else { &mut self.top };
        match list.iter_mut().find(|(k, _)| k == key) {
            Some(m) => m.1 = value,
            None => list.push((key.to_string(), value)),
        }
    }
}

const WRONG: [&str; 12] = [
    "7",
    "-1",
    "1e400",
    "true",
    "null",
    r#""str""#,
    "[]",
    "{}",
    r#"[1,"a"]"#,
    r#""\u0000""#,
    r#"{"a":[{"b":null}]}"#,
    "18446744073709551616",
];

fn quoted(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| format!("{s:?}")).collect()
}

/// A structured change to the config; returns its label.
type ConfMutation = fn(&mut Rng, &mut Conf) -> String;

/// Structured mutations of the config; each returns its label.
pub fn mutate_conf(r: &mut Rng, c: &mut Conf) -> String {
    const CONF: [ConfMutation; 7] = [
        wrong_type,
        unknown_key,
        cni_version,
        network_name,
        ipam_value,
        runtime_value,
        bridge_name,
    ];
    CONF[r.below(CONF.len())](r, c)
}

/// A wrong type for a key (never `ipam`: without it the default dataDir applies).
fn wrong_type(r: &mut Rng, c: &mut Conf) -> String {
    let ipam = r.below(3) == 0;
    let list = if ipam { &c.ipam } else { &c.top };
    let key = r.pick(list).0.clone();
    let v = r.pick(&WRONG).to_string();
    c.set(ipam, &key, v.clone());
    format!("{key}={v}")
}

fn unknown_key(r: &mut Rng, c: &mut Conf) -> String {
    let key = format!("zz{}", r.below(1000));
    let v = r.pick(&WRONG).to_string();
    let ipam = r.below(2) == 0;
    c.set(ipam, &key, v.clone());
    format!("unknown {key}={v}")
}

fn cni_version(r: &mut Rng, c: &mut Conf) -> String {
    let v = r
        .pick(&quoted(&[
            "", "0.2.0", "1.2.0", "1.0", "1.1.0 ", "v1.0.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0",
        ]))
        .clone();
    c.set(false, "cniVersion", v.clone());
    format!("cniVersion={v}")
}

fn network_name(r: &mut Rng, c: &mut Conf) -> String {
    let long = "n".repeat(300);
    let v = r
        .pick(&quoted(&[
            "",
            ".",
            "..",
            "a/b",
            "new\nline",
            "a b",
            &long,
            "é",
            "-a",
            "ok.name_1",
            "a\u{0}b",
            "../../etc",
        ]))
        .clone();
    c.set(false, "name", v.clone());
    format!("name={v}")
}

const BAD_SUBNETS: [&str; 13] = [
    "127.0.0.0/8",
    "224.0.0.0/24",
    "0.0.0.0/0",
    "10.77.0.0/33",
    "10.77.0.5/24",
    "fe80::/64",
    "::/0",
    "10.77.0.0/31",
    "1.2.3.4",
    "fd00::/64",
    "169.254.1.0/24",
    "ff02::/64",
    "255.255.255.0/24",
];

const BAD_RANGES: [&str; 7] = [
    r#"[[{"subnet":"10.77.0.0/24","gateway":"10.77.0.255"}]]"#,
    r#"[[{"subnet":"10.77.0.0/24","rangeStart":"10.77.1.5"}]]"#,
    r#"[[{"subnet":"10.77.0.0/24","rangeStart":"10.77.0.9","rangeEnd":"10.77.0.3"}]]"#,
    r#"[[{"subnet":"10.77.0.0/24"}],[{"subnet":"10.77.0.0/25"}]]"#,
    r#"[[{"subnet":"10.77.0.0/24"},{"subnet":"fd00::/64"}]]"#,
    r#"[[]]"#,
    r#"[[{"subnet":"10.77.0.0/30"}]]"#,
];

const BAD_ROUTES: [&str; 5] = [
    r#"[{"dst":"default"}]"#,
    r#"[{"dst":"10.9.0.0/16","gw":"10.99.0.1"}]"#,
    r#"[{"dst":"224.0.0.0/4"}]"#,
    r#"[{"gw":"10.77.0.1"}]"#,
    r#"[{"dst":"0.0.0.0/0","gw":"fd00::1"}]"#,
];

/// A bad subnet, range set, route list or IPAM type.
fn ipam_value(r: &mut Rng, c: &mut Conf) -> String {
    let (k, v) = match r.below(4) {
        0 => (
            "ranges",
            format!(r#"[[{{"subnet":"{}"}}]]"#, r.pick(&BAD_SUBNETS)),
        ),
        1 => ("ranges", r.pick(&BAD_RANGES).to_string()),
        2 => ("routes", r.pick(&BAD_ROUTES).to_string()),
        _ => (
            "type",
            r.pick(&quoted(&[
                "host-local",
                "static",
                "nonexistent",
                "../bin/sh",
            ]))
            .clone(),
        ),
    };
    c.set(true, k, v.clone());
    format!("ipam.{k}={v}")
}

const RUNTIME_VALUES: [(&str, &str); 16] = [
    ("runtimeConfig", r#"{"mac":"zz:00:00:00:00:01"}"#),
    ("runtimeConfig", r#"{"mac":"ff:ff:ff:ff:ff:ff"}"#),
    ("runtimeConfig", r#"{"mac":"01:00:5e:00:00:01"}"#),
    ("runtimeConfig", r#"{"mac":"00:00:00:00:00:00"}"#),
    ("runtimeConfig", r#"{"mac":"0e:00:00:00:00"}"#),
    ("runtimeConfig", r#"{"mac":"0e:00:00:00:00:07"}"#),
    ("runtimeConfig", r#"{"ips":["10.77.0.300"]}"#),
    ("runtimeConfig", r#"{"ips":["10.99.0.5"]}"#),
    ("runtimeConfig", r#"{"ips":["10.77.0.1"]}"#),
    ("runtimeConfig", r#"{"ips":["fd00::1"]}"#),
    ("runtimeConfig", r#"{"ips":["10.77.0.50/24"]}"#),
    ("args", r#"{"cni":{"ips":["x"]}}"#),
    ("args", r#"{"cni":{"mac":"not-a-mac"}}"#),
    (
        "args",
        r#"{"cni":{"ips":["10.77.0.60"],"mac":"0e:00:00:00:00:08"}}"#,
    ),
    (
        "prevResult",
        r#"{"cniVersion":"1.0.0","ips":[{"address":"x"}]}"#,
    ),
    ("prevResult", r#"{"ips":[{"address":"10.77.0.9/24"}]}"#),
];

/// A bad runtimeConfig, args or prevResult.
fn runtime_value(r: &mut Rng, c: &mut Conf) -> String {
    let (k, v) = *r.pick(&RUNTIME_VALUES);
    c.set(false, k, v.to_string());
    format!("{k}={v}")
}

fn bridge_name(r: &mut Rng, c: &mut Conf) -> String {
    let v = r
        .pick(&quoted(&[
            "",
            "br:0",
            "averyveryverylongbridge",
            "lo",
            "lbr1",
            "a b",
        ]))
        .clone();
    c.set(false, "bridge", v.clone());
    format!("bridge={v}")
}

/// Byte-level mutations of the rendered config (after the protected prefix).
/// A change to the rendered config, given the length of its protected prefix; returns its label.
pub type TextMutation = fn(&mut Rng, &mut Vec<u8>, usize) -> String;

pub const TEXT: [TextMutation; 4] = [
    |r, b, p| {
        let n = 1 + r.below(4);
        for _ in 0..n {
            let i = p + r.below(b.len() - p);
            b[i] ^= 1 << r.below(8);
        }
        format!("{n} bit flips")
    },
    |r, b, _| {
        let n = r.below(b.len());
        b.truncate(n);
        format!("truncated to {n}")
    },
    |r, b, _| {
        let d = *r.pick(&[31usize, 33, 200, 100_000]);
        let nest = format!(r#""deep":{}{}}}"#, "[".repeat(d), "]".repeat(d));
        b.pop();
        b.extend_from_slice(b",");
        b.extend_from_slice(nest.as_bytes());
        format!("nested {d} deep")
    },
    |r, b, _| {
        let n = *r.pick(&[1000usize, 200_000, 1_100_000]);
        b.pop();
        b.extend_from_slice(format!(r#","huge":"{}"}}"#, "a".repeat(n)).as_bytes());
        format!("{n}-byte string")
    },
];
