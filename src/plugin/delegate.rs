//! Running another plugin from CNI_PATH (a delegated IPAM such as host-local or static), as the
//! reference bridge plugin does: same stdin, same environment, CNI_COMMAND set per call.
//!
//! Not `dhcp`: its ADD needs the pod's interface to exist, and ADD leases before it makes the
//! veth (so that a failed lease changes nothing and a killed ADD leaves no veth without a
//! lease). The reference bridge makes the veth first (bridge.go `cmdAdd`: `setupVeth`, then
//! `ipam.ExecAdd`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

use serde::Deserialize;

use crate::cni::{CniError, Code, Command, Env};

#[derive(Deserialize)]
struct ErrorJson<'a> {
    code: Option<u32>,
    #[serde(borrow)]
    msg: Option<&'a str>,
    #[serde(borrow)]
    details: Option<&'a str>,
}

/// Finds `plugin` in CNI_PATH.
pub fn find(plugin: &str, env: &Env) -> Result<PathBuf, CniError> {
    if plugin.is_empty() || plugin.contains('/') || plugin == "." || plugin == ".." {
        return Err(CniError::new(
            Code::InvalidConfig,
            format!("ipam.type {plugin:?} is not a plugin name"),
        ));
    }
    env.path
        .iter()
        .map(|dir| dir.join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let dirs: Vec<_> = env.path.iter().map(|p| p.display().to_string()).collect();
            CniError::new(
                Code::Delegate,
                format!(
                    "IPAM plugin {plugin:?} not found in CNI_PATH ({}); install it or fix ipam.type",
                    dirs.join(":")
                ),
            )
        })
}

/// Runs `plugin` with `command`; returns its stdout on success, its error (code kept) otherwise.
pub fn exec(plugin: &str, command: Command, env: &Env, stdin: &[u8]) -> Result<Vec<u8>, CniError> {
    let path = find(plugin, env)?;
    let mut child = Process::new(&path)
        .env("CNI_COMMAND", command.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            CniError::new(
                Code::Delegate,
                format!("cannot run IPAM plugin {}: {e}", path.display()),
            )
        })?;
    if let Some(mut i) = child.stdin.take() {
        // A plugin that exits without reading stdin is its own problem; its output tells.
        let _ = i.write_all(stdin);
    }
    let out = child.wait_with_output().map_err(|e| {
        CniError::new(
            Code::Delegate,
            format!("IPAM plugin {}: {e}", path.display()),
        )
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let relayed = serde_json_core::from_slice::<ErrorJson>(trim(&out.stdout)).ok();
    Err(match relayed {
        Some((ErrorJson { code, msg, details }, _)) => CniError {
            code: code.unwrap_or(Code::Delegate as u32),
            msg: format!(
                "IPAM plugin {plugin} {}: {}",
                command.as_str(),
                msg.unwrap_or("failed")
            ),
            details: details.unwrap_or_default().to_owned(),
        },
        None => CniError::new(
            Code::Delegate,
            format!(
                "IPAM plugin {plugin} {} failed ({}): {}",
                command.as_str(),
                out.status,
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        ),
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}
