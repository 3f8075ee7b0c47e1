//! Kernel notification noise for running agents (the policy churn test and bench): in each
//! named namespace, a bridge `noise0` made and an address added to and removed from it every
//! 5 ms, through one `ip -batch` per namespace, until dropped. The agents wake for these events
//! (address changes on the node), as a busy node's would.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The noise makers; they stop (and the `ip` processes end) when this is dropped.
pub struct Noise {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Noise {
    /// Starts one noise maker in each namespace named in `namespaces` (`ip netns` names).
    pub fn start<'a>(namespaces: impl IntoIterator<Item = &'a str>) -> Noise {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = namespaces
            .into_iter()
            .map(|ns| {
                let (ns, stop) = (ns.to_owned(), stop.clone());
                std::thread::spawn(move || noise(&ns, &stop))
            })
            .collect();
        Noise { stop, threads }
    }
}

fn noise(ns: &str, stop: &AtomicBool) {
    let mut ip = Command::new("ip")
        .args(["-n", ns, "-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ip -batch");
    let mut input = ip.stdin.take().expect("ip's stdin");
    let _ = input.write_all(b"link add noise0 type bridge\n");
    let mut add = true;
    while !stop.load(Ordering::Relaxed) {
        let op = if add { "add" } else { "del" };
        add = !add;
        let line = format!("addr {op} 203.0.113.1/32 dev noise0\n");
        if input.write_all(line.as_bytes()).is_err() || input.flush().is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(input);
    let _ = ip.wait();
}

impl Drop for Noise {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
