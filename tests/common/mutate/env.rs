//! Environment mutations: variables unset or emptied, and bad interface names, namespace
//! paths, CNI_ARGS, commands and container IDs.

use std::path::Path;

use super::Rng;

/// A change to the environment; returns its label.
type EnvMutation = fn(&mut Rng, &mut Vec<(String, String)>, &Path) -> String;

/// Environment mutations; each returns its label.
pub fn mutate_env(r: &mut Rng, env: &mut Vec<(String, String)>, scratch: &Path) -> String {
    const ENV: [EnvMutation; 7] = [
        unset_var,
        empty_var,
        bad_ifname,
        bad_netns,
        huge_args,
        bad_args,
        bad_command_or_id,
    ];
    ENV[r.below(ENV.len())](r, env, scratch)
}

const VARS: [&str; 5] = [
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_PATH",
    "CNI_COMMAND",
];

fn set_var(env: &mut Vec<(String, String)>, k: &str, v: String) {
    env.retain(|(n, _)| n != k);
    env.push((k.to_string(), v));
}

/// Unset (CNI_COMMAND stays: without it the binary is the operator's CLI).
fn unset_var(r: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let k = *r.pick(&VARS[..4]);
    env.retain(|(n, _)| n != k);
    format!("no {k}")
}

fn empty_var(r: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let k = *r.pick(&VARS);
    set_var(env, k, String::new());
    format!("empty {k}")
}

fn bad_ifname(r: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let long = "e".repeat(16);
    let v = r
        .pick(&[
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "eth\n0",
            long.as_str(),
            "lo",
            "eth1",
        ])
        .to_string();
    set_var(env, "CNI_IFNAME", v.clone());
    format!("CNI_IFNAME={v:?}")
}

fn bad_netns(r: &mut Rng, env: &mut Vec<(String, String)>, scratch: &Path) -> String {
    let file = scratch.join("regular-file");
    let v = r
        .pick(&[
            scratch.join("missing").display().to_string(),
            file.display().to_string(),
            scratch.display().to_string(),
            "/dev/null".into(),
            "relative/ns".into(),
        ])
        .clone();
    set_var(env, "CNI_NETNS", v.clone());
    format!("CNI_NETNS={v}")
}

fn huge_args(_: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let v = format!("K8S_POD_NAME={}", "p".repeat(100_000));
    set_var(env, "CNI_ARGS", v);
    "huge CNI_ARGS".into()
}

const BAD_ARGS: [&str; 16] = [
    "a",
    "=",
    "IP",
    "IP=",
    "IP=x",
    "IP=10.77.0.5,",
    "MAC=zz",
    "foo=bar",
    ";;",
    "IgnoreUnknown=1;foo=bar",
    "K8S_POD_NAME=a=b",
    "IgnoreUnknown=maybe",
    "IP=10.77.0.77",
    "MAC=0e:00:00:00:00:09",
    "IP=10.77.0.1",
    "IP=127.0.0.1",
];

fn bad_args(r: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let v = r.pick(&BAD_ARGS).to_string();
    set_var(env, "CNI_ARGS", v.clone());
    format!("CNI_ARGS={v:?}")
}

fn bad_command_or_id(r: &mut Rng, env: &mut Vec<(String, String)>, _: &Path) -> String {
    let long = "c".repeat(2000);
    let v = r
        .pick(&[
            "a/b",
            "../x",
            "a\nb",
            long.as_str(),
            ".",
            "-a",
            "add",
            "ADDX",
        ])
        .to_string();
    let k = if v == "add" || v == "ADDX" {
        "CNI_COMMAND"
    } else {
        "CNI_CONTAINERID"
    };
    set_var(env, k, v.clone());
    format!("{k}={v:?}")
}
