//! The plugin as a runtime meets it: through libcni (Debian's golang-github-appc-cni-dev, the
//! library containerd's CRI plugin calls through go-cni), with the shipped conflist
//! (conf/10-lichen.conflist: Lichen, then portmap and bandwidth), against what a k3s node runs
//! today: k3s's flannel conflist (k3s-io/k3s pkg/agent/flannel/setup_osspecific.go: flannel
//! with delegate `hairpinMode`, `forceAddress`, `isDefaultGateway`, then portmap and
//! bandwidth), its flannel step replaced by the reference bridge + host-local with the delegate
//! config flannel's CNI plugin hands them (see benches/datapath/flannel.rs). That baseline is
//! one exec shorter than a real flannel node's (no flannel plugin in between), so it flatters
//! the reference. The chained portmap and bandwidth are Debian's, the same for both.
//!
//! A small Go program (benches/libcni/driver.go, built here with Debian's Go) holds one
//! libcni instance per conflist, as a runtime does, and times each AddNetworkList and
//! DelNetworkList; requests alternate between the two conflists, so drift
//! on the machine hits both alike. Pods without host ports or bandwidth limits (a typical pod:
//! no capability args). Then 50 ADDs from 10 concurrent runtime workers. No CHECK: Debian's
//! bandwidth plugin (1.1.1) crashes on a CHECK without a bandwidth configuration, in either
//! chain (containernetworking/plugins#1221, fixed by #1222 in v1.9.1; a node's own chained
//! plugins are what the conflist runs, so CRI-O, which calls CHECK, needs a fixed bandwidth).
//!
//! Run as root under `unshare -n` (scripts/bench.sh). Prints figures and ratios; asserts
//! nothing about time. `BENCH_ITERATIONS` (default 60).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::NamedNs;

const REF: &str = "/usr/lib/cni";
const SHIPPED: &str = include_str!("../conf/10-lichen.conflist");

fn main() {
    common::require_root();
    let iterations = common::env_num("BENCH_ITERATIONS", 60);
    let work = std::env::temp_dir().join(format!("lichen-libcni-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let driver = build_driver();
    let node = NamedNs::create(&testkit::unique_name("lg", "node")).unwrap();
    let setups = [lichen(&work), reference(&work)];
    let pods: Vec<Vec<NamedNs>> = (0..2)
        .map(|k| {
            (0..iterations.max(50))
                .map(|i| NamedNs::create(&testkit::unique_name("lg", &format!("{k}p{i}"))).unwrap())
                .collect()
        })
        .collect();
    let mut runtimes: Vec<Runtime> = setups
        .iter()
        .map(|s| Runtime::start(&node, &driver, s, &work.join(format!("cache-{}", s.label))))
        .collect();
    for (rt, p) in runtimes.iter_mut().zip(&pods) {
        rt.call("add", "warm", &p[0].path);
        rt.call("del", "warm", &p[0].path);
    }
    let times = sequential(&mut runtimes, &pods, iterations);
    let parallel: Vec<Duration> = setups
        .iter()
        .zip(&pods)
        .map(|(s, p)| concurrent(&node, &driver, s, &work, p))
        .collect();
    drop(runtimes);
    report(iterations, &times, &parallel);
    let _ = std::fs::remove_dir_all(&work);
}

/// Per verb (ADD, DEL), per conflist (Lichen's first): `iterations` calls, interleaved.
type Times = [[Vec<Duration>; 2]; 2];

fn sequential(runtimes: &mut [Runtime], pods: &[Vec<NamedNs>], iterations: usize) -> Times {
    let mut times: Times = Default::default();
    for (v, verb) in ["add", "del"].iter().enumerate() {
        for i in 0..iterations {
            for ((rt, pods), t) in runtimes.iter_mut().zip(pods).zip(&mut times[v]) {
                t.push(rt.call(verb, &format!("s{i}"), &pods[i].path));
            }
        }
    }
    times
}

/// One conflist and the CNI_PATH its plugins are found in.
struct Setup {
    label: &'static str,
    conflist: PathBuf,
    cni_path: String,
}

/// The shipped conflist, its host paths moved under `work` (the agent's subnet.env, the lease
/// directory); every option as shipped. CNI_PATH: `lichen` as installed, then Debian's chained
/// plugins.
fn lichen(work: &Path) -> Setup {
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(common::bin(), bin.join("lichen")).unwrap();
    let subnet_env = work.join("subnet.env");
    std::fs::write(
        &subnet_env,
        "LICHEN_NETWORK=10.42.0.0/16\nLICHEN_SUBNET=10.42.1.1/24\nLICHEN_MTU=1450\nLICHEN_IPMASQ=true\n",
    )
    .unwrap();
    let conf = SHIPPED
        .replace("/run/lichen/subnet.env", &subnet_env.display().to_string())
        .replace(
            "/var/lib/cni/networks",
            &work.join("leases-lichen").display().to_string(),
        );
    assert!(
        conf.contains(&*subnet_env.to_string_lossy()) && conf.contains("leases-lichen"),
        "conf/10-lichen.conflist no longer names /run/lichen/subnet.env and /var/lib/cni/networks: update the bench"
    );
    let conflist = work.join("10-lichen.conflist");
    std::fs::write(&conflist, conf).unwrap();
    Setup {
        label: "lichen",
        conflist,
        cni_path: format!("{}:{REF}", bin.display()),
    }
}

/// k3s's flannel conflist with flannel's delegate in its place (see the header).
fn reference(work: &Path) -> Setup {
    let conf = format!(
        r#"{{"name":"cbr0","cniVersion":"1.0.0","plugins":[
{{"type":"bridge","bridge":"cni0","isGateway":true,"isDefaultGateway":true,"hairpinMode":true,"forceAddress":true,"ipMasq":false,"mtu":1450,
"ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.43.1.0/24"}}]],"routes":[{{"dst":"10.43.0.0/16"}}],"dataDir":"{}"}}}},
{{"type":"portmap","capabilities":{{"portMappings":true}}}},
{{"type":"bandwidth","capabilities":{{"bandwidth":true}}}}]}}"#,
        work.join("leases-ref").display()
    );
    let conflist = work.join("10-flannel.conflist");
    std::fs::write(&conflist, conf).unwrap();
    Setup {
        label: "reference",
        conflist,
        cni_path: REF.to_owned(),
    }
}

/// Builds benches/libcni/driver.go against Debian's libcni (GOPATH mode, offline).
fn build_driver() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/libcni/driver");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(root.join("benches/libcni/driver.go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", root.join("target/libcni/gocache"))
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!(
            "bench: cannot build the libcni driver: install golang-go and \
             golang-github-appc-cni-dev (scripts/bench.sh does)"
        );
        std::process::exit(1);
    }
    out
}

/// A long-lived driver (one libcni instance) in the node's namespace.
struct Runtime {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    label: &'static str,
}

impl Runtime {
    fn start(node: &NamedNs, driver: &Path, s: &Setup, cache: &Path) -> Runtime {
        let mut child = node
            .command(driver)
            .unwrap()
            .arg(&s.conflist)
            .arg(&s.cni_path)
            .arg(cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Runtime {
            input: child.stdin.take().unwrap(),
            output: BufReader::new(child.stdout.take().unwrap()),
            child,
            label: s.label,
        }
    }

    /// One libcni call; the time libcni took, as the driver measured it.
    fn call(&mut self, verb: &str, id: &str, netns: &Path) -> Duration {
        writeln!(self.input, "{verb} {id} {}", netns.display()).unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        match line.trim().split_once(' ') {
            Some(("ok", us)) => Duration::from_micros(us.parse().unwrap()),
            _ => panic!("{} {verb} {id}: {line}", self.label),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 50 ADDs from 10 runtime workers at once (each its own libcni instance, 5 pods each), then
/// their DELs: the wall time of the ADDs.
fn concurrent(node: &NamedNs, driver: &Path, s: &Setup, work: &Path, pods: &[NamedNs]) -> Duration {
    let mut workers: Vec<Runtime> = (0..10)
        .map(|_| Runtime::start(node, driver, s, &work.join(format!("cache-{}", s.label))))
        .collect();
    let t = Instant::now();
    std::thread::scope(|sc| {
        for (w, rt) in workers.iter_mut().enumerate() {
            let pods = &pods[w * 5..w * 5 + 5];
            sc.spawn(move || {
                for (i, p) in pods.iter().enumerate() {
                    rt.call("add", &format!("c{w}-{i}"), &p.path);
                }
            });
        }
    });
    let wall = t.elapsed();
    for (w, rt) in workers.iter_mut().enumerate() {
        for (i, p) in pods[w * 5..w * 5 + 5].iter().enumerate() {
            rt.call("del", &format!("c{w}-{i}"), &p.path);
        }
    }
    wall
}

fn report(iterations: usize, times: &Times, parallel: &[Duration]) {
    println!(
        "CNI through libcni, shipped conflist vs k3s's flannel conflist ({iterations} of each verb, interleaved)"
    );
    println!("lichen binary: {}", common::bin().display());
    println!(
        "{:<34}{:>12}{:>14}{:>10}",
        "", "lichen", "reference", "ratio"
    );
    for (v, verb) in ["ADD", "DEL"].iter().enumerate() {
        for p in [50, 95] {
            let name = format!("{verb} {}", if p == 50 { "median" } else { "p95" });
            let (a, b) = (pct(&times[v][0], p), pct(&times[v][1], p));
            row(&name, a, b);
        }
    }
    row("50 ADDs, 10 workers (wall)", parallel[0], parallel[1]);
}

fn row(name: &str, a: Duration, b: Duration) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34}{:>9.2} ms{:>11.2} ms{:>10.3}",
        ms(a),
        ms(b),
        ms(a) / ms(b)
    );
}

fn pct(v: &[Duration], p: usize) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() - 1) * p) / 100]
}
