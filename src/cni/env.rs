//! The CNI_* environment variables, validated per verb.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::cni::syntax::valid_ifname;
use crate::cni::{CniError, Code};

mod args;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use args::parse as parse_args;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Gc,
    Status,
}

impl Command {
    /// Parses CNI_COMMAND's value (exact, upper case as the spec writes it).
    pub fn parse(s: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub const ALL: [Command; 6] = [
        Command::Add,
        Command::Del,
        Command::Check,
        Command::Version,
        Command::Gc,
        Command::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Gc => "GC",
            Command::Status => "STATUS",
        }
    }
}

/// `CNI_ARGS`: `K=V;K=V`. Known keys: `IgnoreUnknown`, `IP` (comma-separated addresses, as
/// host-local takes them), `MAC` (as the reference bridge takes it), `K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_INFRA_CONTAINER_ID`,
/// `K8S_POD_UID`. An unknown key is an error (code 4) unless `IgnoreUnknown` is 1/true.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniArgs {
    pub ignore_unknown: bool,
    pub ips: Vec<IpAddr>,
    /// `MAC=`, as given: validated by ADD when it is the MAC in effect (see [`crate::cni::mac`]).
    pub mac: Option<String>,
    pub k8s_pod_namespace: Option<String>,
    pub k8s_pod_name: Option<String>,
    pub k8s_pod_infra_container_id: Option<String>,
    pub k8s_pod_uid: Option<String>,
}

/// The validated environment of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub command: Command,
    /// Required for ADD/DEL/CHECK; matches `[A-Za-z0-9][A-Za-z0-9_.-]*`.
    pub container_id: Option<String>,
    /// Required for ADD/CHECK, optional for DEL (the netns may be gone). Its existence is checked
    /// by the verb, not here.
    pub netns: Option<PathBuf>,
    /// Required for ADD/DEL/CHECK: 1–15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
    pub ifname: Option<String>,
    pub args: CniArgs,
    /// CNI_PATH split on ':' (empty entries dropped). Required for GC.
    pub path: Vec<PathBuf>,
}

impl Env {
    /// Reads and validates the process environment. Missing/invalid → code 4 naming the
    /// variable, its value and what a valid one looks like; unknown CNI_COMMAND → code 4.
    pub fn from_process() -> Result<Env, CniError> {
        Env::from_vars(|k| std::env::var(k).ok())
    }

    /// Same, from any lookup function (for tests).
    /// Variables set to the empty string count as unset (as in the reference plugins).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Env, CniError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let command = match var("CNI_COMMAND") {
            None => {
                return Err(invalid(format!(
                    "CNI_COMMAND is not set: set it to one of {}",
                    commands()
                )))
            }
            Some(c) => Command::parse(&c).ok_or_else(|| {
                invalid(format!(
                    "CNI_COMMAND {c:?} is not a CNI command: expected one of {}",
                    commands()
                ))
            })?,
        };
        let attach = matches!(command, Command::Add | Command::Del | Command::Check);
        let need = |k: &str, what: &str| {
            var(k).ok_or_else(|| {
                invalid(format!("{k} is not set: {} needs {what}", command.as_str()))
            })
        };
        let mut env = Env {
            command,
            container_id: None,
            netns: None,
            ifname: None,
            args: CniArgs::default(),
            path: var("CNI_PATH").map(|p| split_path(&p)).unwrap_or_default(),
        };
        if attach {
            env.container_id = Some(container_id(need("CNI_CONTAINERID", CONTAINER_ID_LOOKS)?)?);
            env.ifname = Some(ifname(need("CNI_IFNAME", IFNAME_LOOKS)?)?);
            env.netns = match command {
                Command::Del => var("CNI_NETNS").map(netns).transpose()?,
                _ => Some(netns(need("CNI_NETNS", NETNS_LOOKS)?)?),
            };
            if let Some(raw) = var("CNI_ARGS") {
                env.args = args::parse(&raw)?;
            }
        }
        if command == Command::Gc && env.path.is_empty() {
            return Err(invalid(format!(
                "CNI_PATH is not set or empty: GC needs the plugin search path (like /opt/cni/bin) \
                 to forward GC to delegated plugins; got {:?}",
                var("CNI_PATH").unwrap_or_default()
            )));
        }
        Ok(env)
    }

    /// `container_id`, for verbs that required it (panics otherwise: a programming error).
    pub fn container_id(&self) -> &str {
        self.container_id.as_deref().expect("validated")
    }

    /// `ifname`, for verbs that required it.
    pub fn ifname(&self) -> &str {
        self.ifname.as_deref().expect("validated")
    }
}

/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 1024 bytes.
pub fn valid_container_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    id.len() <= 1024
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

const CONTAINER_ID_LOOKS: &str =
    "a container ID: letters, digits, '_', '.', '-', starting with a letter or digit (like 4f6c0e2a9b1d)";
const IFNAME_LOOKS: &str =
    "an interface name: 1-15 bytes without '/', ':', whitespace or NUL, not \".\" or \"..\" (like eth0)";
const NETNS_LOOKS: &str =
    "the absolute path of the container's network namespace (like /var/run/netns/cni-1234)";

fn invalid(msg: String) -> CniError {
    CniError::new(Code::InvalidEnv, msg)
}

fn commands() -> String {
    Command::ALL.map(Command::as_str).join(", ")
}

fn container_id(v: String) -> Result<String, CniError> {
    if valid_container_id(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "CNI_CONTAINERID {v:?} is not valid: expected {CONTAINER_ID_LOOKS}, at most 1024 bytes"
        )))
    }
}

fn ifname(v: String) -> Result<String, CniError> {
    if valid_ifname(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "CNI_IFNAME {v:?} is not valid: expected {IFNAME_LOOKS}"
        )))
    }
}

fn netns(v: String) -> Result<PathBuf, CniError> {
    if v.starts_with('/') && !v.contains('\0') {
        Ok(PathBuf::from(v))
    } else {
        Err(invalid(format!(
            "CNI_NETNS {v:?} is not an absolute path: expected {NETNS_LOOKS}"
        )))
    }
}

fn split_path(p: &str) -> Vec<PathBuf> {
    p.split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}
