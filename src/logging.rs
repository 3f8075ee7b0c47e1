//! Logging: stderr by default (simple_logger), or appended to a log file; never stdout, which
//! is the CNI result channel.
//!
//! Level: `logLevel` in the network config, else `LICHEN_LOG`, else `RUST_LOG` (a plain level, or
//! the level of its `lichen=` directive), else `default`. File: `logFile` in the config, else
//! `LICHEN_LOG_FILE`; its lines start with an RFC 3339 UTC timestamp.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};

/// Installs the logger once per process; later calls are ignored.
pub fn init(level: Option<&str>, file: Option<&Path>, default: LevelFilter) {
    let level = level
        .map(str::to_owned)
        .or_else(|| std::env::var("LICHEN_LOG").ok())
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .or_else(|| {
            std::env::var("RUST_LOG")
                .ok()
                .and_then(|v| rust_log_level(&v))
        })
        .unwrap_or(default);
    let file = file
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("LICHEN_LOG_FILE").map(Into::into));
    if let Some(path) = file {
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => {
                let logger = FileLogger {
                    file: Mutex::new(f),
                    level,
                };
                if log::set_boxed_logger(Box::new(logger)).is_ok() {
                    log::set_max_level(level);
                }
                return;
            }
            Err(e) => eprintln!("lichen: cannot open log file {}: {e}", path.display()),
        }
    }
    let _ = simple_logger::SimpleLogger::new().with_level(level).init();
}

/// The level `RUST_LOG` (env_logger's syntax, as operators write it) gives Lichen: the level of a
/// `lichen` directive, else of a bare one (`debug`, `lichen=trace,info`); `None` if neither.
fn rust_log_level(v: &str) -> Option<LevelFilter> {
    let mut bare = None;
    for d in v.split(',').map(str::trim) {
        match d.split_once('=') {
            Some((target, level)) if target == "lichen" || target.starts_with("lichen::") => {
                return level.parse().ok();
            }
            Some(_) => {}
            None => bare = d.parse().ok().or(bare),
        }
    }
    bare
}

/// `2026-12-02T20:31:05.123Z` for a time since the Unix epoch (UTC; days to a civil date by
/// Howard Hinnant's algorithm).
fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// One line per record: `<RFC 3339 UTC time> <pid> <LEVEL> <target>: <message>`.
struct FileLogger {
    file: Mutex<File>,
    level: LevelFilter,
}

impl Log for FileLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{} {} {} {}: {}\n",
            rfc3339(now),
            std::process::id(),
            record.level(),
            record.target(),
            record.args()
        );
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_utc() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_250)),
            "2000-02-29T00:00:00.250Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_796_329_865)),
            "2026-12-03T20:31:05.000Z"
        );
    }

    #[test]
    fn rust_log_directives() {
        assert_eq!(rust_log_level("debug"), Some(LevelFilter::Debug));
        assert_eq!(
            rust_log_level("info,lichen=trace"),
            Some(LevelFilter::Trace)
        );
        assert_eq!(rust_log_level("hyper=debug,warn"), Some(LevelFilter::Warn));
        assert_eq!(rust_log_level("hyper=debug"), None);
        assert_eq!(
            rust_log_level("lichen::agent=error"),
            Some(LevelFilter::Error)
        );
    }
}
