//! What the data-path bench measures on one path: TCP throughput with the whole machine's CPU
//! time per GB moved, and the latency of a 1-byte TCP request/response.
//!
//! CPU time comes from /proc/stat's first line (user + nice + system + irq + softirq + steal,
//! in clock ticks) read right before and after the iperf3 client runs: both ends, the switch
//! and the softirq work all run on this one machine, so the machine's busy time is the sum of
//! both ends' CPU. Anything else running then counts too: run the bench on a quiet machine.
//!
//! `BENCH_PERF=<dir>`: each transfer also runs a system-wide `perf record -g` into
//! `<dir>/<n>-<label>.data` (the figures then include perf's own cost), to see where a path
//! spends its cycles: `perf report -i <file> --no-children --sort sym`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use testkit::NamedNs;

/// One transfer: Gbit/s received and CPU seconds per GB.
#[derive(Clone, Copy)]
pub struct Transfer {
    pub gbps: f64,
    pub cpu_s_per_gb: f64,
}

/// Busy clock ticks of the whole machine so far.
fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    // user nice system idle iowait irq softirq steal
    cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7]
}

fn ticks_per_second() -> f64 {
    // SAFETY: plain libc query.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// iperf3 for `secs` seconds, one stream, from `client` to a server in `server` on `ip`;
/// `label` names the path in `BENCH_PERF`'s files.
pub fn transfer(server: &NamedNs, client: &NamedNs, ip: &str, secs: &str, label: &str) -> Transfer {
    let mut srv = super::iperf_server(server, ip);
    let perf = perf_record(label);
    let before = busy_ticks();
    let out = client
        .exec("iperf3", &["-c", ip, "-t", secs, "-J"])
        .unwrap();
    let busy = (busy_ticks() - before) as f64 / ticks_per_second();
    if let Some(mut perf) = perf {
        // SAFETY: signals our own child.
        unsafe { libc::kill(perf.id() as i32, libc::SIGINT) };
        let _ = perf.wait();
    }
    let _ = srv.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    let bytes = super::iperf_received(&json, "bytes");
    Transfer {
        gbps: super::iperf_received(&json, "bits_per_second") / 1e9,
        cpu_s_per_gb: busy / (bytes / 1e9),
    }
}

/// `BENCH_PERF`'s recorder for one transfer, started and sampling before this returns.
fn perf_record(label: &str) -> Option<std::process::Child> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::path::PathBuf::from(std::env::var_os("BENCH_PERF")?);
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let file = dir.join(format!("{}-{name}.data", N.fetch_add(1, Ordering::Relaxed)));
    let child = std::process::Command::new("perf")
        .args(["record", "-a", "-g", "-q", "-o"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("BENCH_PERF needs perf (linux-perf)");
    // perf opens its counters within a moment of starting; the transfer runs for seconds.
    std::thread::sleep(Duration::from_millis(300));
    eprintln!("perf: {}", file.display());
    Some(child)
}

/// Median latency in µs of `n` 1-byte request/responses over one TCP connection (Nagle off)
/// from `client` to a server in `server` on `ip`, after 200 unmeasured ones.
pub fn request_response(server: &NamedNs, client: &NamedNs, ip: &str, n: usize) -> f64 {
    let addr = format!("{ip}:7471");
    let listener = std::thread::scope(|s| {
        s.spawn(|| {
            testkit::probe::enter(&server.path);
            TcpListener::bind(&addr).unwrap()
        })
        .join()
        .unwrap()
    });
    let echo = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_nodelay(true).unwrap();
        let mut b = [0u8; 1];
        while c.read_exact(&mut b).is_ok() {
            if c.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut times: Vec<Duration> = std::thread::scope(|s| {
        s.spawn(|| {
            testkit::probe::enter(&client.path);
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_nodelay(true).unwrap();
            let mut b = [7u8; 1];
            let mut one = || {
                let t = Instant::now();
                c.write_all(&b).unwrap();
                c.read_exact(&mut b).unwrap();
                t.elapsed()
            };
            (0..200).for_each(|_| {
                one();
            });
            (0..n).map(|_| one()).collect()
        })
        .join()
        .unwrap()
    });
    echo.join().unwrap();
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e6
}
