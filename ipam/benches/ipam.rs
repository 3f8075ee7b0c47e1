//! IPAM latency on a real directory under the default temp dir: allocate + release of a fresh
//! attachment with 0, 100 and 1000 leases already present, sequentially and from 8 threads at
//! once (each with its own open, as separate CNI processes would be). Prints per-operation
//! median and p95; asserts nothing about time.
//!
//! `cargo bench -p lichen-ipam --bench ipam` (BENCH_ITERATIONS sets the sequential count,
//! BENCH_LEASES a comma-separated list of lease counts).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use lichen_ipam::{Ipam, Range, RangeSet};

const THREADS: usize = 8;

fn sets() -> Vec<RangeSet> {
    let range = Range::new("10.0.0.0/16".parse().unwrap(), None, None, None).unwrap();
    vec![RangeSet::new(vec![range]).unwrap()]
}

/// A fresh data directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("lichen-ipam-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Default)]
struct Samples {
    allocate: Vec<Duration>,
    release: Vec<Duration>,
}

impl Samples {
    fn extend(&mut self, other: Samples) {
        self.allocate.extend(other.allocate);
        self.release.extend(other.release);
    }
}

/// One allocate + release of a fresh attachment, timed separately.
fn cycle(ipam: &Ipam, cid: &str, out: &mut Samples) {
    let t = Instant::now();
    let got = ipam.allocate(&sets(), cid, "eth0", &[]).unwrap();
    out.allocate.push(t.elapsed());
    assert_eq!(got.len(), 1);
    let t = Instant::now();
    let freed: Vec<IpAddr> = ipam.release(cid, "eth0").unwrap();
    out.release.push(t.elapsed());
    assert_eq!(freed.len(), 1);
}

fn prefill(data: &Path, n: usize) {
    let ipam = Ipam::open(data, "net").unwrap();
    for i in 0..n {
        ipam.allocate(&sets(), &format!("pre{i}"), "eth0", &[])
            .unwrap();
    }
    // Warm up (first-use work, page cache).
    let mut sink = Samples::default();
    for i in 0..5 {
        cycle(&ipam, &format!("warm{i}"), &mut sink);
    }
}

fn sequential(data: &Path, iterations: usize) -> Samples {
    let ipam = Ipam::open(data, "net").unwrap();
    let mut out = Samples::default();
    for i in 0..iterations {
        cycle(&ipam, &format!("seq{i}"), &mut out);
    }
    out
}

fn parallel(data: &Path, per_thread: usize) -> (Samples, Duration) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let data = data.to_path_buf();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let ipam = Ipam::open(&data, "net").unwrap();
                let mut out = Samples::default();
                barrier.wait();
                for i in 0..per_thread {
                    cycle(&ipam, &format!("par{t}-{i}"), &mut out);
                }
                out
            })
        })
        .collect();
    let mut all = Samples::default();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    (all, start.elapsed())
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(label: &str, what: &str, samples: &mut [Duration]) {
    samples.sort();
    println!(
        "{label:<26} {what:<8} n={:<5} median {:>8.0} µs   p95 {:>8.0} µs",
        samples.len(),
        us(quantile(samples, 0.5)),
        us(quantile(samples, 0.95)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) gets a
    // short smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 200 } else { 4 });
    let per_thread = (iterations / THREADS).max(2);
    println!(
        "ipam bench: data under {} ({} sequential cycles, {THREADS} threads × {per_thread})",
        std::env::temp_dir().display(),
        iterations
    );
    let sizes: Vec<usize> = match std::env::var("BENCH_LEASES") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) if full => vec![0, 100, 1000],
        Err(_) => vec![0, 10],
    };
    for n in sizes {
        let scratch = Scratch::new(&format!("n{n}"));
        prefill(&scratch.0, n);

        let label = format!("{n} leases, sequential");
        let mut seq = sequential(&scratch.0, iterations);
        report(&label, "allocate", &mut seq.allocate);
        report(&label, "release", &mut seq.release);

        let label = format!("{n} leases, {THREADS} threads");
        let (mut par, wall) = parallel(&scratch.0, per_thread);
        report(&label, "allocate", &mut par.allocate);
        report(&label, "release", &mut par.release);
        let cycles = (THREADS * per_thread) as u32;
        println!(
            "{label:<26} wall     {:>8.0} µs per allocate+release (throughput)",
            us(wall / cycles)
        );
    }
}
