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
        let line = format!(
            "{} {} {} {}: {}\n",
            crate::rfc3339::format(std::time::SystemTime::now(), true),
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
