//! RFC 3339 UTC timestamps (`2026-12-02T20:31:05Z`, or with milliseconds), as Kubernetes writes
//! times and as the file log stamps its lines. No time-zone database: UTC only.

use std::time::{Duration, SystemTime};

/// `t` in RFC 3339 UTC, with `.mmm` milliseconds when `millis`. Times before 1970 print as 1970.
pub fn format(t: SystemTime, millis: bool) -> String {
    let since = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let fraction = if millis {
        format!(".{:03}", since.subsec_millis())
    } else {
        String::new()
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn utc_dates_and_times() {
        assert_eq!(format(at(0), true), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format(at(951_782_400_250), true),
            "2000-02-29T00:00:00.250Z"
        );
        assert_eq!(format(at(1_796_329_865_000), false), "2026-12-03T20:31:05Z");
    }
}
