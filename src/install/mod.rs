//! `lichen install` / `lichen uninstall`: put the plugin, the plugins its conflist chains and the
//! conflist where the container runtime looks, as every CNI's DaemonSet does.
//!
//! Where runtimes look (sources in ../shared/NOTES.md, "k3s and microk8s"):
//! - containerd's defaults, `/opt/cni/bin` and `/etc/cni/net.d`: plain containerd, CRI-O, and
//!   **k3s with `--flannel-backend=none`** (k3s writes its own CNI dirs into containerd's config
//!   only while Flannel is on). On such a k3s node `/opt/cni/bin` starts empty: k3s keeps its
//!   plugins (loopback, portmap, bandwidth…) in `/var/lib/rancher/k3s/data/cni`.
//! - microk8s: `/var/snap/microk8s/current/opt/cni/bin` (its reference plugins are there) and
//!   `/var/snap/microk8s/current/args/cni-network`.
//!
//! What `install` does, each step logged:
//! - copies the binary as `lichen` and links `lichen-ipam`;
//! - links `loopback -> lichen` when the bin dir has no `loopback` (containerd runs it for every
//!   sandbox; Lichen answers to that name);
//! - for every other plugin the conflist chains: keeps it when present, links it from a
//!   `--plugins-from` dir when found there (k3s's data dir), and otherwise leaves it out of the
//!   built-in conflist (an operator's own conflist is written as given, with a warning);
//! - with `--mode`, writes that `"mode"` into the built-in conflist (which names none, so each
//!   node picks: routed, unless its bridge still has pods);
//! - writes the conflist into the conf dir, or, with `--stage FILE`, to FILE for the agent to
//!   put in place once the node is programmed (`lichen agent --cni-conf-dir`, [`publish`]);
//! - records what it created in `<bin dir>/.lichen-installed`, so `uninstall` removes exactly
//!   that and nothing an operator or another CNI put there.
//!
//! Errors are [`InstallError`]s: what failed, with the path and the file system's error.
//!
//! Everything is written atomically (temp file beside the target, rename), so a runtime never
//! reads half a binary or half a conflist. A conflist of another CNI is never overwritten unless
//! `--force` is given.

mod conflist;
mod error;
mod record;
mod uninstall;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use conflist::{is_ours, with_mode, Chain};
use error::Context;
pub use error::InstallError;
pub use uninstall::{installed_bridge, uninstall};

use crate::subnet_file::write_atomic;

pub const CONFLIST_NAME: &str = "10-lichen.conflist";
/// The conflist shipped in conf/ (the subnet-file hand-off: the same file on every node).
pub const DEFAULT_CONFLIST: &str = include_str!("../../conf/10-lichen.conflist");
/// The name containerd and CRI-O run for every sandbox's `lo`; Lichen answers to it.
use crate::plugin::LOOPBACK_NAME as LOOPBACK;

#[derive(Debug, Clone)]
pub struct Install {
    pub bin_dir: PathBuf,
    pub conf_dir: PathBuf,
    /// The conflist to write, and whether it is the built-in one (whose chain is trimmed to the
    /// plugins present) or an operator's (written as given).
    pub conflist: String,
    pub builtin: bool,
    /// Directories to link missing chained plugins from (k3s: /var/lib/rancher/k3s/data/cni).
    pub plugins_from: Vec<PathBuf>,
    /// Write the conflist here instead of `conf_dir` (the agent publishes it when ready).
    pub stage: Option<PathBuf>,
    /// Overwrite a conflist that is not Lichen's.
    pub force: bool,
}

impl Install {
    /// Installs; returns what it did, one line each.
    pub fn run(&self, exe: &Path) -> Result<Vec<String>, InstallError> {
        let chain = Chain::parse(&self.conflist).map_err(InstallError::Conflist)?;
        if !chain.is_lichen() {
            return Err(InstallError::NotLichen);
        }
        let target = self.conf_dir.join(CONFLIST_NAME);
        if self.stage.is_none() {
            refuse_foreign(&target, self.force)?;
        }
        let mut done = Vec::new();
        let mut made = record::Record::read(&self.bin_dir);
        self.install_binary(exe, &mut made, &mut done)?;
        let missing = self.link_chained(&chain, &mut made, &mut done)?;
        made.write(&self.bin_dir)
            .context("writing", &self.bin_dir.join(record::FILE))?;
        let text = self.conflist_text(&chain, &missing, &mut done);
        let dest = self.stage.clone().unwrap_or(target);
        if fs::read_to_string(&dest).ok().as_deref() != Some(text.as_str()) {
            write_atomic(&dest, text.as_bytes()).context("writing", &dest)?;
            done.push(match &self.stage {
                Some(_) => format!(
                    "staged {}: `lichen agent --cni-conf-dir` puts it in place once this node is programmed",
                    dest.display()
                ),
                None => format!("wrote {}", dest.display()),
            });
        }
        if self.stage.is_none() {
            done.extend(shadowing_warnings(&self.conf_dir)?);
        }
        Ok(done)
    }

    /// `lichen` itself into the bin dir (only when it differs), and its `lichen-ipam` and
    /// `loopback` links (a node's own `loopback` is kept).
    fn install_binary(
        &self,
        exe: &Path,
        made: &mut record::Record,
        done: &mut Vec<String>,
    ) -> Result<(), InstallError> {
        fs::create_dir_all(&self.bin_dir).context("creating", &self.bin_dir)?;
        let bin = self.bin_dir.join("lichen");
        let data = fs::read(exe).context("reading", exe)?;
        if fs::read(&bin).ok().as_deref() != Some(data.as_slice()) {
            write_atomic(&bin, &data)
                .and_then(|()| fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)))
                .context("installing", &bin)?;
            done.push(format!("installed {}", bin.display()));
        }
        made.add("lichen");
        for name in ["lichen-ipam", LOOPBACK] {
            let link = self.bin_dir.join(name);
            if name == LOOPBACK && present(&link) && !made.has(name) {
                done.push(format!("kept {}: the node's own", link.display()));
                continue;
            }
            if fs::read_link(&link).ok().as_deref() != Some(Path::new("lichen")) {
                symlink_atomic(Path::new("lichen"), &link).context("linking", &link)?;
                done.push(format!("linked {} -> lichen", link.display()));
            }
            made.add(name);
        }
        Ok(())
    }

    /// The chained plugins missing from the bin dir, linked from `plugins_from` where found
    /// there; returns the ones found nowhere.
    fn link_chained(
        &self,
        chain: &Chain,
        made: &mut record::Record,
        done: &mut Vec<String>,
    ) -> Result<Vec<String>, InstallError> {
        let mut missing = Vec::new();
        for (ty, _) in chain.plugins.iter().skip(1) {
            let path = self.bin_dir.join(ty);
            if present(&path) {
                continue;
            }
            match self
                .plugins_from
                .iter()
                .map(|d| d.join(ty))
                .find(|p| present(p))
            {
                Some(src) => {
                    symlink_atomic(&src, &path).context("linking", &path)?;
                    made.add(ty);
                    done.push(format!("linked {} -> {}", path.display(), src.display()));
                }
                None => missing.push(ty.clone()),
            }
        }
        Ok(missing)
    }

    /// The conflist to write: as given, or (the built-in one) without the chained plugins
    /// found nowhere; says what is missing either way.
    fn conflist_text(&self, chain: &Chain, missing: &[String], done: &mut Vec<String>) -> String {
        if missing.is_empty() {
            self.conflist.clone()
        } else if self.builtin {
            done.push(format!(
                "left {} out of the chain: not in {}{} (hostPort mappings and bandwidth limits need them)",
                missing.join(", "),
                self.bin_dir.display(),
                self.searched()
            ));
            chain.retain(|t| !missing.iter().any(|m| m == t))
        } else {
            done.push(format!(
                "warning: the conflist chains {}, not found in {}{}: every pod's ADD will fail until it is there",
                missing.join(", "),
                self.bin_dir.display(),
                self.searched()
            ));
            self.conflist.clone()
        }
    }

    fn searched(&self) -> String {
        self.plugins_from
            .iter()
            .map(|d| format!(" or {}", d.display()))
            .collect()
    }
}

/// The agent's side of `install --stage`: writes the staged conflist into `conf_dir` when it
/// differs from what is there. Returns what it did (`None`: already in place). A conflist of
/// another CNI under Lichen's name is left alone (an error).
pub fn publish(staged: &Path, conf_dir: &Path) -> Result<Option<String>, InstallError> {
    let text = fs::read_to_string(staged).map_err(|source| InstallError::Staged {
        path: staged.to_owned(),
        source,
    })?;
    let target = conf_dir.join(CONFLIST_NAME);
    if fs::read_to_string(&target).ok().as_deref() == Some(text.as_str()) {
        return Ok(None);
    }
    refuse_foreign(&target, false)?;
    write_atomic(&target, text.as_bytes()).context("writing", &target)?;
    let mut line = format!("wrote {}", target.display());
    for w in shadowing_warnings(conf_dir)? {
        line.push_str("; ");
        line.push_str(&w);
    }
    Ok(Some(line))
}

/// Refuses to replace `target` when it holds another CNI's conflist (unless `force`).
fn refuse_foreign(target: &Path, force: bool) -> Result<(), InstallError> {
    match fs::read_to_string(target) {
        Ok(old) if !is_ours(&old) && !force => Err(InstallError::Foreign(target.to_owned())),
        _ => Ok(()),
    }
}

/// Is there something runnable (a file, or a link that resolves) at `path`?
fn present(path: &Path) -> bool {
    fs::metadata(path).is_ok()
}

/// Points `link` at `target`, replacing whatever name was there in one rename.
fn symlink_atomic(target: &Path, link: &Path) -> io::Result<()> {
    let name = link.file_name().and_then(|n| n.to_str()).unwrap_or("link");
    let tmp = link.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link)
}

/// containerd and CRI-O use the first config in name order: one line per config that sorts
/// before Lichen's and so wins.
fn shadowing_warnings(dir: &Path) -> Result<Vec<String>, InstallError> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .context("reading", dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !n.starts_with('.')
                && (n.ends_with(".conflist") || n.ends_with(".conf") || n.ends_with(".json"))
                && n < CONFLIST_NAME
        })
        .collect();
    v.sort();
    Ok(v.into_iter()
        .map(|other| {
            format!(
                "warning: {} sorts before {CONFLIST_NAME} and will be used instead; remove it",
                other.display()
            )
        })
        .collect())
}

#[cfg(test)]
mod tests;
