//! The plugin run with an environment the test writes in full (variables missing, empty or
//! hostile), and what a run must look like whatever its input: a seeded PRNG for the fuzz and
//! crash tests, and the answer checks of the spec's result channel.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use lichen::cni::json::{self, Object};
use lichen::cni::{CniResult, Code, Version};

use super::{NamedNs, BIN};

pub use testkit::rng::Rng;

/// One finished run.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Starts the plugin in `node` with exactly `env` (plus PATH), `stdin` written from a thread.
pub fn spawn(node: &NamedNs, env: &[(String, String)], stdin: Vec<u8>) -> Child {
    start(command(node), env, stdin)
}

/// The plugin binary as a command that runs in `node`.
pub fn command(node: &NamedNs) -> Command {
    testkit::binary_command(node, Path::new(BIN)).unwrap()
}

/// Starts `c` (the plugin) with exactly `env` (plus PATH), `stdin` written from a thread.
pub fn start(mut c: Command, env: &[(String, String)], stdin: Vec<u8>) -> Child {
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn the plugin");
    let mut pipe = child.stdin.take().expect("piped");
    // A plugin may answer before reading all of stdin (a bad environment): not our error.
    std::thread::spawn(move || drop(pipe.write_all(&stdin)));
    child
}

pub fn wait(child: Child) -> Outcome {
    let out = child.wait_with_output().expect("wait for the plugin");
    Outcome {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn run(node: &NamedNs, env: &[(String, String)], stdin: Vec<u8>) -> Outcome {
    wait(spawn(node, env, stdin))
}

/// What any run must be: no panic, no signal, and exit status and stdout agree. Success:
/// `verb`'s output (a result for ADD, version info for VERSION, nothing else); failure: the
/// spec's error object, with a supported cniVersion, a code and a message. `Err` says what is
/// wrong.
pub fn check_answer(verb: &str, o: &Outcome) -> Result<(), String> {
    if o.stderr.contains("panicked") {
        return Err("panicked".into());
    }
    let Some(code) = o.code else {
        return Err(format!("killed by signal {:?}", o.signal));
    };
    let doc = o.stdout.as_bytes();
    if code == 0 {
        return match verb {
            "ADD" => CniResult::parse(doc)
                .map_err(|e| format!("ADD succeeded without a readable result: {}", e.msg))
                .and_then(|r| {
                    (!r.ips.is_empty())
                        .then_some(())
                        .ok_or("ADD result without ips".to_string())
                }),
            "VERSION" => object(doc)
                .and_then(|o| {
                    o.raw("supportedVersions")
                        .ok_or("no supportedVersions".into())
                })
                .map(drop),
            _ if o.stdout.is_empty() => Ok(()),
            _ => Err(format!("{verb} succeeded and printed something")),
        };
    }
    let e = object(doc)?;
    let version = e.text("cniVersion").ok().flatten().unwrap_or_default();
    Version::parse(&version).ok_or(format!("error cniVersion {version:?}"))?;
    let n = e.get::<u32>("code", "").ok().flatten().unwrap_or(0);
    if n == 0 {
        return Err("error without a code".into());
    }
    match e.text("msg") {
        Ok(Some(m)) if !m.is_empty() => Ok(()),
        _ => Err("error without a msg".into()),
    }
}

fn object(doc: &[u8]) -> Result<Object<'_>, String> {
    json::check(doc, "answer").map_err(|e| format!("stdout is not JSON: {}", e.msg))?;
    Object::parse("", doc, Code::Decode).map_err(|e| format!("stdout is not an object: {}", e.msg))
}

/// The files an attachment can leave in a data dir, recursively: leases, index files, temp
/// files; not the lock, the round-robin cursors or the lease cache, which stay by design.
pub fn store_files(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    store_files_into(dir, &mut out);
    out
}

fn store_files_into(dir: &Path, out: &mut std::collections::BTreeSet<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            store_files_into(&p, out);
        } else if !(name == "lock" || name == "leases" || name.starts_with("last_reserved_ip")) {
            out.insert(p.display().to_string());
        }
    }
}
