//! Plugin benchmark: Lichen as configured by default (no `mode`: routed on this bridgeless
//! node) against Debian's reference `bridge` + `host-local`, in one run, on the same machine, in
//! namespaces made here (run it as root under `unshare -n`, see scripts/bench.sh). Prints
//! figures and ratios; asserts nothing about time. Then ADD latency dual-stack against
//! IPv4-only ([`dual`]), routed mode against bridge mode and the reference ([`routed`]), and
//! with `LICHEN_BENCH_BASELINE`, this binary against a baseline one ([`ab`]).

#[path = "cni/ab.rs"]
mod ab;
mod common;
#[path = "cni/dual.rs"]
mod dual;
#[path = "cni/routed.rs"]
mod routed;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use testkit::NamedNs;

const REF: &str = "/usr/lib/cni";

struct Plugin {
    label: &'static str,
    bin: PathBuf,
    conf: String,
}

fn main() {
    common::require_root();
    let iterations = common::env_num("BENCH_ITERATIONS", 100);
    let node = NamedNs::create(&testkit::unique_name("lb", "node")).unwrap();
    let work = std::env::temp_dir().join(format!("lichen-bench-{}", std::process::id()));
    let plugins = plugins(&work.join("ipam"));
    // one set of pod namespaces per plugin: both attach "eth0"
    let pod_sets: Vec<Vec<NamedNs>> = (0..2)
        .map(|k| {
            (0..iterations.max(50))
                .map(|i| NamedNs::create(&testkit::unique_name("lb", &format!("{k}p{i}"))).unwrap())
                .collect()
        })
        .collect();

    // warm-up: the bridges exist, page cache is hot
    for (p, pods) in plugins.iter().zip(&pod_sets) {
        run(&node, p, "ADD", "warm", &pods[0].path);
        run(&node, p, "DEL", "warm", &pods[0].path);
    }

    let (add, del) = sequential(&node, &plugins, &pod_sets, iterations);
    let (parallel, rss) = parallel_and_rss(&node, &plugins, &pod_sets);
    print_figures(iterations, &plugins, &add, &del, parallel, rss);
    // BENCH_DUAL_ITERATIONS=0 leaves the dual-stack figure out.
    let dual = common::env_num("BENCH_DUAL_ITERATIONS", 30);
    if dual > 0 {
        dual::bench(&node, &work, dual);
    }
    // BENCH_ROUTED_ITERATIONS=0 leaves routed mode out.
    let routed = common::env_num("BENCH_ROUTED_ITERATIONS", 30);
    if routed > 0 {
        routed::bench(&node, &work, routed);
    }
    // LICHEN_BENCH_BASELINE=<binary>: this binary against that one, paired (issue 16).
    let ab = common::env_num("BENCH_AB_ITERATIONS", 40);
    ab::bench(&node, &work, ab);
    let _ = std::fs::remove_dir_all(&work);
}

/// Lichen and the reference plugins, each with its own bridge and subnet, leases under `data`.
/// Lichen as users get it: no `mode`, so routed on this node without a bridge (bridge mode's
/// own figure against the reference is [`routed`]'s).
fn plugins(data: &Path) -> [Plugin; 2] {
    let ranges = |n: u8| format!(r#"[{{"subnet":"10.{n}.0.0/16"}}]"#);
    [
        lichen(
            ("lichen", common::bin()),
            "bl",
            "",
            "lbr0",
            &ranges(90),
            data,
        ),
        reference("bridge+host-local", "br", "rbr0", &ranges(91), data),
    ]
}

/// Lichen (`label`, `bin`) as network `name` in `mode` (no `mode` key when empty: the default;
/// bridge `br`), IPAM `ranges` (range sets, comma-separated), leases under `data`.
fn lichen(
    (label, bin): (&'static str, &Path),
    name: &str,
    mode: &str,
    br: &str,
    ranges: &str,
    data: &Path,
) -> Plugin {
    let mode = match mode {
        "" => String::new(),
        m => format!(r#""mode":"{m}","#),
    };
    Plugin {
        label,
        bin: bin.to_path_buf(),
        conf: format!(
            r#"{{"cniVersion":"1.0.0","name":"{name}","type":"lichen",{mode}"bridge":"{br}","ipam":{{"ranges":[{ranges}],"dataDir":"{}"}}}}"#,
            data.display()
        ),
    }
}

/// The reference bridge + host-local as network `name` (bridge `br`), as [`lichen`].
fn reference(label: &'static str, name: &str, br: &str, ranges: &str, data: &Path) -> Plugin {
    Plugin {
        label,
        bin: Path::new(REF).join("bridge"),
        conf: format!(
            r#"{{"cniVersion":"1.0.0","name":"{name}","type":"bridge","bridge":"{br}","isGateway":true,"isDefaultGateway":true,"ipam":{{"type":"host-local","ranges":[{ranges}],"dataDir":"{}"}}}}"#,
            data.display()
        ),
    }
}

/// Per plugin (lichen first).
type Durations = [Vec<Duration>; 2];

/// `iterations` ADDs, then as many DELs, alternating the plugins: (ADD times, DEL times).
fn sequential(
    node: &NamedNs,
    plugins: &[Plugin; 2],
    pod_sets: &[Vec<NamedNs>],
    iterations: usize,
) -> (Durations, Durations) {
    let mut add: Durations = Default::default();
    let mut del: Durations = Default::default();
    // interleaved, so drift on the machine hits both alike
    #[allow(clippy::needless_range_loop)] // i indexes both plugins' pod sets
    for i in 0..iterations {
        for (k, p) in plugins.iter().enumerate() {
            add[k].push(run(node, p, "ADD", &format!("s{i}"), &pod_sets[k][i].path).0);
        }
    }
    #[allow(clippy::needless_range_loop)]
    for i in 0..iterations {
        for (k, p) in plugins.iter().enumerate() {
            del[k].push(run(node, p, "DEL", &format!("s{i}"), &pod_sets[k][i].path).0);
        }
    }
    (add, del)
}

/// Per plugin: the wall time of 50 parallel ADDs (then DELs), and the peak RSS of one ADD.
fn parallel_and_rss(
    node: &NamedNs,
    plugins: &[Plugin; 2],
    pod_sets: &[Vec<NamedNs>],
) -> ([Duration; 2], [i64; 2]) {
    let mut parallel = [Duration::ZERO; 2];
    let mut rss = [0i64; 2];
    for (k, p) in plugins.iter().enumerate() {
        let pods = &pod_sets[k];
        let t = Instant::now();
        std::thread::scope(|s| {
            for (i, pod) in pods.iter().take(50).enumerate() {
                s.spawn(move || run(node, p, "ADD", &format!("par{i}"), &pod.path));
            }
        });
        parallel[k] = t.elapsed();
        std::thread::scope(|s| {
            for (i, pod) in pods.iter().take(50).enumerate() {
                s.spawn(move || run(node, p, "DEL", &format!("par{i}"), &pod.path));
            }
        });
        rss[k] = run(node, p, "ADD", "rss", &pods[0].path).1;
        run(node, p, "DEL", "rss", &pods[0].path);
    }
    (parallel, rss)
}

/// The table: medians and p95s, parallel wall time, peak RSS, binary sizes.
fn print_figures(
    iterations: usize,
    plugins: &[Plugin; 2],
    add: &Durations,
    del: &Durations,
    parallel: [Duration; 2],
    rss: [i64; 2],
) {
    println!("CNI plugin benchmark ({iterations} sequential ADD/DEL each, 50 parallel ADDs)");
    println!("lichen binary: {}", plugins[0].bin.display());
    println!(
        "{:<28}{:>14}{:>20}{:>10}",
        "", "lichen", "bridge+host-local", "ratio"
    );
    for (name, v) in [("ADD median", add), ("DEL median", del)] {
        row(name, ms(pct(&v[0], 50)), ms(pct(&v[1], 50)), "ms");
        row(
            &name.replace("median", "p95"),
            ms(pct(&v[0], 95)),
            ms(pct(&v[1], 95)),
            "ms",
        );
    }
    row(
        "50 parallel ADDs (wall)",
        ms(parallel[0]),
        ms(parallel[1]),
        "ms",
    );
    row(
        "peak RSS of one ADD",
        rss[0] as f64 / 1024.0,
        rss[1] as f64 / 1024.0,
        "MB",
    );
    print_sizes();
}

/// One row: lichen's figure, the reference's, their ratio.
fn row(name: &str, a: f64, b: f64, unit: &str) {
    println!(
        "{name:<28}{:>11.2} {unit:<2}{:>17.2} {unit:<2}{:>10.3}",
        a,
        b,
        a / b
    );
}

/// The release binaries' sizes (those built) against Debian's bridge + host-local.
fn print_sizes() {
    let ref_size = size(&Path::new(REF).join("bridge")) + size(&Path::new(REF).join("host-local"));
    for t in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(t)
            .join("release/lichen");
        if p.exists() {
            row(
                &format!("size {}", t.split('-').next().unwrap()),
                size(&p) as f64 / 1048576.0,
                ref_size as f64 / 1048576.0,
                "MB",
            );
        } else {
            println!("size {t}: not built (cargo build --release --target {t})");
        }
    }
    println!("(reference size: Debian's bridge + host-local binaries, x86_64, dynamically linked)");
}

/// One invocation inside the node namespace: (wall time, peak RSS in KiB).
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives the child's peak RSS
fn run(node: &NamedNs, p: &Plugin, cmd: &str, id: &str, netns: &Path) -> (Duration, i64) {
    let mut c = testkit::binary_command(node, &p.bin).unwrap();
    c.env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", REF)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let t = Instant::now();
    let mut child = c.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(p.conf.as_bytes());
    let mut out = Vec::new();
    use std::io::Read;
    let _ = child.stdout.take().unwrap().read_to_end(&mut out);
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    if !ExitStatus::from_raw(status).success() {
        panic!(
            "{} {cmd} {id} failed: {}",
            p.label,
            String::from_utf8_lossy(&out)
        );
    }
    (elapsed, usage.ru_maxrss)
}

fn pct(v: &[Duration], p: usize) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() - 1) * p) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// `iterations` ADDs of each of `plugins`, interleaved (pod `i` of every plugin, then pod
/// `i + 1`), after one warm-up ADD/DEL each, then their DELs; the median ADD of each in ms.
/// `tag` keeps the namespaces and container IDs of one caller apart.
fn interleaved_add_medians(
    node: &NamedNs,
    plugins: &[Plugin],
    tag: &str,
    iterations: usize,
) -> Vec<f64> {
    let pods: Vec<Vec<NamedNs>> = (0..plugins.len())
        .map(|k| {
            (0..iterations)
                .map(|i| {
                    let ns = NamedNs::create(&testkit::unique_name("lb", &format!("{tag}{k}p{i}")));
                    ns.unwrap()
                })
                .collect()
        })
        .collect();
    let mut add: Vec<Vec<Duration>> = vec![Vec::new(); plugins.len()];
    for (p, set) in plugins.iter().zip(&pods) {
        run(node, p, "ADD", "warm", &set[0].path);
        run(node, p, "DEL", "warm", &set[0].path);
    }
    #[allow(clippy::needless_range_loop)] // i indexes every configuration's pods
    for i in 0..iterations {
        for (k, p) in plugins.iter().enumerate() {
            add[k].push(run(node, p, "ADD", &format!("{tag}{i}"), &pods[k][i].path).0);
        }
    }
    #[allow(clippy::needless_range_loop)]
    for i in 0..iterations {
        for (k, p) in plugins.iter().enumerate() {
            run(node, p, "DEL", &format!("{tag}{i}"), &pods[k][i].path);
        }
    }
    add.iter().map(|v| ms(pct(v, 50))).collect()
}
