//! The reconcile-duration histogram: fixed buckets from 1 ms to 10 s (a pass on a small board
//! takes milliseconds, a pass waiting on a slow kernel or a big policy seconds). Kept in the
//! [`super::report::Report`] and rendered by [`super::metrics`] in the Prometheus text format;
//! a module of its own so the report and its renderer need not import each other.

use std::fmt::Write;
use std::time::Duration;

/// Upper bounds (seconds) of the reconcile-duration buckets; `+Inf` is implied.
pub const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0];

/// A Prometheus histogram over [`BUCKETS`]: per-bucket (not yet cumulative) counts.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let v = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += v;
    }

    /// The histogram's lines (cumulative buckets, `_sum`, `_count`).
    pub(super) fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            cumulative += n;
            let _ = writeln!(s, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(s, "{name}_sum {}", self.sum);
        let _ = writeln!(s, "{name}_count {}", self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_everything() {
        let mut h = Histogram::default();
        for ms in [0, 2, 2, 40, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut s = String::new();
        h.render(&mut s, "x", "help");
        let bucket = |le: &str| -> u64 {
            let key = format!("x_bucket{{le=\"{le}\"}} ");
            s.lines()
                .find_map(|l| l.strip_prefix(key.as_str()))
                .unwrap_or_else(|| panic!("no bucket {le} in {s}"))
                .parse()
                .unwrap()
        };
        assert_eq!(bucket("0.001"), 1);
        assert_eq!(bucket("0.0025"), 3);
        assert_eq!(bucket("0.05"), 4);
        assert_eq!(bucket("10"), 4);
        assert_eq!(bucket("+Inf"), 5);
        assert!(s.contains("x_count 5\n"), "{s}");
        assert!(s.contains("x_sum 20.044"), "{s}");
    }
}
