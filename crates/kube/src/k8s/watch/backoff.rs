//! [`Backoff`]: the watcher's (and the publisher's) retry delays.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling from `min`
/// to `max`. The jitter comes from the clock's nanoseconds (no random crate needed: it only has
/// to keep many agents from retrying in step).
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.max);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|t| t.subsec_nanos())
            .unwrap_or(0);
        // A fraction in [0, 1) from the clock's low bits, mixed so that close calls differ.
        let frac = f64::from(nanos.wrapping_mul(2_654_435_761) >> 8) / f64::from(1u32 << 24);
        d / 2 + d.mul_f64(frac / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        for expect in [100u64, 200, 400, 800, 800] {
            let d = b.next_delay();
            let e = Duration::from_millis(expect);
            assert!(d >= e / 2 && d <= e, "{d:?} for {e:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
