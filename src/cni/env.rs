//! The CNI_* environment variables, validated per verb.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::cni::CniError;

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
/// host-local takes them), `K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_INFRA_CONTAINER_ID`,
/// `K8S_POD_UID`. An unknown key is an error (code 4) unless `IgnoreUnknown` is 1/true.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniArgs {
    pub ignore_unknown: bool,
    pub ips: Vec<IpAddr>,
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
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Env, CniError> {
        let _ = get;
        todo!("cni::env::Env::from_vars")
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

/// Validates an interface name as the kernel and the spec require (used for CNI_IFNAME and the
/// bridge name): 1–15 bytes, no `/`, `:`, whitespace or NUL, not `.`/`..`.
pub fn valid_ifname(name: &str) -> bool {
    let _ = name;
    todo!("cni::env::valid_ifname")
}

/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 1024 bytes.
pub fn valid_container_id(id: &str) -> bool {
    let _ = id;
    todo!("cni::env::valid_container_id")
}
