//! A reachability matrix polled until it holds: cells of (from namespace, to address, port,
//! protocol, allowed), all probed at once ([`probe::reach`], either family) round after round
//! until every cell matches or a deadline passes. Policy changes take effect asynchronously:
//! this waits for the expected verdicts instead of sleeping.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use super::probe::{self, Proto};

/// A cell: (from, to address, port, protocol, allowed).
pub type Cell<'a> = (&'a Path, &'a str, u16, Proto, bool);

/// Probes every cell (in parallel) until all match; panics after `limit` naming `case` and the
/// cells that do not.
#[track_caller]
pub fn expect_reach(case: &str, cells: &[Cell], limit: Duration) {
    let t = Instant::now();
    loop {
        let got: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = cells
                .iter()
                .map(|&(from, ip, port, proto, _)| {
                    s.spawn(move || probe::reach(from, ip, port, proto))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wrong: Vec<String> = cells
            .iter()
            .zip(&got)
            .filter(|((.., want), got)| want != *got)
            .map(|((from, ip, port, proto, want), _)| {
                format!(
                    "{} -> {ip} {port}/{proto:?} should be {}",
                    from.display(),
                    if *want { "allowed" } else { "denied" }
                )
            })
            .collect();
        if wrong.is_empty() {
            return;
        }
        if t.elapsed() > limit {
            panic!("case {case}: {wrong:#?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
