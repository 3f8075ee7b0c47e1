//! The CNI verbs, one file each (ADD's specifications of an attachment in `spec.rs`), the
//! standalone IPAM plugin (`lichen-ipam`) and the loopback plugin (`loopback`).
//!
//! Every entry point reads stdin and the environment, runs one verb, and prints exactly one
//! thing on stdout: the result (ADD, VERSION, IPAM ADD), nothing (DEL, CHECK, GC, STATUS on
//! success), or the spec's error object (with a non-zero exit).

pub use ipam::DEFAULT_DATA_DIR;
pub use loopback::LOOPBACK_NAME;

mod add;
mod check;
mod del;
mod delegate;
mod gc;
mod ipam;
mod ipam_plugin;
mod loopback;
mod spec;
mod status;
mod version;

use std::io::{Read, Write};

use crate::cni::{json, CniError, Code, Command, Env, NetConf, Version};

/// What a verb prints on success.
pub(crate) type Output = Option<String>;

/// One call of the plugin, parsed once: the environment, the typed network config, and the raw
/// config bytes, which only delegation reads (a delegated IPAM plugin gets the same stdin).
pub(crate) struct Request<'a> {
    pub env: &'a Env,
    pub conf: &'a NetConf,
    pub raw: &'a [u8],
}

/// `lichen` run by a runtime (CNI_COMMAND set).
pub fn run_cni() -> i32 {
    run(|env, stdin| match env.command {
        Command::Version => version::run(stdin),
        cmd => {
            let conf = load(stdin)?;
            let req = Request {
                env,
                conf: &conf,
                raw: stdin,
            };
            match cmd {
                Command::Add => add::run(&req),
                Command::Del => del::run(&req),
                Command::Check => check::run(&req),
                Command::Gc => gc::run(&req),
                Command::Status => status::run(&req),
                Command::Version => unreachable!(),
            }
        }
    })
}

/// `lichen-ipam`: a drop-in for host-local, delegated to by any main plugin.
pub fn run_ipam_plugin() -> i32 {
    run(|env, stdin| match env.command {
        Command::Version => version::run(stdin),
        _ => {
            let conf = load(stdin)?;
            ipam_plugin::run(&Request {
                env,
                conf: &conf,
                raw: stdin,
            })
        }
    })
}

/// `loopback`: `lo` up in the pod, as the reference loopback plugin (see `loopback.rs`).
/// Like it, it does not read CNI_ARGS (whatever keys a runtime passes there).
pub fn run_loopback() -> i32 {
    let env = || Env::from_vars(|k| std::env::var(k).ok().filter(|_| k != "CNI_ARGS"));
    run_with(env, |env, stdin| match env.command {
        Command::Version => version::run(stdin),
        _ => loopback::run(env, &load(stdin)?),
    })
}

fn load(stdin: &[u8]) -> Result<NetConf, CniError> {
    let conf = NetConf::parse(stdin)?;
    crate::logging::init(
        conf.log_level.as_deref(),
        conf.log_file.as_deref(),
        log::LevelFilter::Warn,
    );
    Ok(conf)
}

fn run(verb: impl FnOnce(&Env, &[u8]) -> Result<Output, CniError>) -> i32 {
    run_with(Env::from_process, verb)
}

fn run_with(
    env: impl FnOnce() -> Result<Env, CniError>,
    verb: impl FnOnce(&Env, &[u8]) -> Result<Output, CniError>,
) -> i32 {
    let stdin = match read_stdin() {
        Ok(s) => s,
        Err(e) => return fail(&e, Version::LATEST.as_str()),
    };
    let result = env().and_then(|env| {
        let r = verb(&env, &stdin);
        if let Err(e) = &r {
            log::error!("{} failed: {e}", env.command.as_str());
        }
        r
    });
    match result {
        Ok(out) => {
            if let Some(out) = out {
                let mut so = std::io::stdout().lock();
                if so
                    .write_all(out.as_bytes())
                    .and_then(|_| so.flush())
                    .is_err()
                {
                    return 1;
                }
            }
            0
        }
        Err(e) => fail(&e, &NetConf::peek_version(&stdin)),
    }
}

fn fail(e: &CniError, version: &str) -> i32 {
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(e.to_json(version).as_bytes());
    let _ = so.flush();
    1
}

fn read_stdin() -> Result<Vec<u8>, CniError> {
    let mut buf = Vec::with_capacity(4096);
    std::io::stdin()
        .take(json::MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            CniError::new(
                Code::Io,
                format!("cannot read the network config on stdin: {e}"),
            )
        })?;
    if buf.len() > json::MAX_INPUT {
        return Err(CniError::new(
            Code::Decode,
            format!(
                "the network config on stdin is larger than {} bytes",
                json::MAX_INPUT
            ),
        ));
    }
    Ok(buf)
}
