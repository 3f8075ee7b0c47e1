//! Logging: stderr by default (simple_logger), or appended to a log file; never stdout, which
//! is the CNI result channel.
//!
//! Level: `logLevel` in the network config, else `LICHEN_LOG`, else `default`. File: `logFile`
//! in the config, else `LICHEN_LOG_FILE`.

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

/// One line per record: `<unix seconds> <pid> <LEVEL> <target>: <message>`.
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
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let line = format!(
            "{secs:.3} {} {} {}: {}\n",
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
