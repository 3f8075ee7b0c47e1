//! Helpers the benchmarks share (each bench target includes this module); the generic ones
//! (the agent guard, polling, RSS, Node objects) are the test harness's (crates/testkit).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use lichen::cni::CniResult;
#[allow(unused_imports)] // not every bench uses every helper
pub use testkit::{node_json, rss_kib, wait, Agent};
use testkit::{Invocation, NamedNs};

/// Exits unless run as root (the benches make network namespaces).
pub fn require_root() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("bench: needs root (network namespaces); run scripts/bench.sh");
        std::process::exit(1);
    }
}

/// The number in environment variable `name`, else `default`.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The binary to measure: `LICHEN_BENCH_BIN` when set, else the shipped static (musl) one
/// when built, else this build's.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // another build to compare with (e.g. before a change)
        if let Some(b) = std::env::var_os("LICHEN_BENCH_BIN") {
            return b.into();
        }
        let musl = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/x86_64-unknown-linux-musl/release/lichen");
        if cfg!(target_arch = "x86_64") && musl.exists() {
            musl
        } else {
            env!("CARGO_BIN_EXE_lichen").into()
        }
    })
}

/// iperf3 from `client` to a server in `server` bound to `ip` for `secs` seconds: Gbit/s received.
pub fn iperf(server: &NamedNs, client: &NamedNs, ip: &str, secs: &str) -> f64 {
    let mut srv = iperf_server(server, ip);
    let out = client
        .exec("iperf3", &["-c", ip, "-t", secs, "-J"])
        .unwrap();
    let _ = srv.wait();
    iperf_received(&String::from_utf8_lossy(&out.stdout), "bits_per_second") / 1e9
}

/// A one-shot iperf3 server in `server` bound to `ip`, given a moment to listen.
pub fn iperf_server(server: &NamedNs, ip: &str) -> std::process::Child {
    let srv = server
        .command("iperf3")
        .unwrap()
        .args(["-s", "-1", "-B", ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv
}

/// The number after `"key":` in the `"sum_received"` object of iperf3's JSON (`bytes`,
/// `bits_per_second`).
pub fn iperf_received(json: &str, key: &str) -> f64 {
    let i = json
        .find("\"sum_received\":")
        .expect("iperf3 JSON has sum_received");
    let rest = &json[i..];
    let j = rest.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
    let v: String = rest[j..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        .collect();
    v.parse().unwrap()
}

/// A pod namespace attached on `node` by the plugin (this binary), through the node's subnet
/// file `subnet_env` (waited for) and IPAM dir `ipam_dir`: the pod and its address.
pub fn attach_pod(
    node: &NamedNs,
    subnet_env: &Path,
    ipam_dir: &Path,
    name: &str,
) -> (NamedNs, String) {
    attach_pod_in(node, subnet_env, ipam_dir, name, "bridge")
}

/// [`attach_pod`] in the plugin's `mode` ("bridge" or "routed").
pub fn attach_pod_in(
    node: &NamedNs,
    subnet_env: &Path,
    ipam_dir: &Path,
    name: &str,
    mode: &str,
) -> (NamedNs, String) {
    assert!(wait(Duration::from_secs(10), || subnet_env.exists()));
    let pod = NamedNs::create(name).unwrap();
    let conf = format!(
        r#"{{"cniVersion":"1.1.0","name":"bench","type":"lichen","mode":"{mode}","subnetFile":"{}","ipam":{{"dataDir":"{}"}}}}"#,
        subnet_env.display(),
        ipam_dir.display()
    );
    let a = testkit::invoke(
        bin(),
        node,
        &Invocation::pod("ADD", &pod, &conf, "/usr/lib/cni"),
    )
    .unwrap();
    assert!(a.ok, "{}", a.stdout);
    let ip = CniResult::parse(a.stdout.as_bytes()).unwrap().ips[0]
        .address
        .addr()
        .to_string();
    (pod, ip)
}
