//! `lichen install` / `lichen uninstall`: put the plugin and its conflist where the container
//! runtime looks (k3s: /var/lib/rancher/k3s/data/current/bin or /opt/cni/bin and
//! /var/lib/rancher/k3s/agent/etc/cni/net.d; microk8s: /var/snap/microk8s/current/opt/cni/bin and
//! /var/snap/microk8s/current/args/cni-network), as every CNI's DaemonSet does.
//!
//! Everything is written atomically (temp file beside the target, rename), so a runtime never
//! reads half a binary or half a conflist. A conflist of another CNI is never overwritten unless
//! `--force` is given.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::subnet_file::write_atomic;

pub const CONFLIST_NAME: &str = "10-lichen.conflist";
/// The conflist shipped in conf/ (the subnet-file hand-off: the same file on every node).
pub const DEFAULT_CONFLIST: &str = include_str!("../conf/10-lichen.conflist");

#[derive(Debug, Clone)]
pub struct Install {
    pub bin_dir: PathBuf,
    pub conf_dir: PathBuf,
    /// The conflist to write (default: [`DEFAULT_CONFLIST`]).
    pub conflist: String,
    /// Overwrite a conflist that is not Lichen's.
    pub force: bool,
}

/// Is this conflist text Lichen's (its first plugin is of type "lichen")?
pub fn is_ours(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains(r#""type":"lichen""#)
}

impl Install {
    /// Installs; returns what it did, one line each.
    pub fn run(&self, exe: &Path) -> io::Result<Vec<String>> {
        let mut done = Vec::new();
        if !is_ours(&self.conflist) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the conflist to install has no plugin of type \"lichen\"",
            ));
        }
        let target = self.conf_dir.join(CONFLIST_NAME);
        match fs::read_to_string(&target) {
            Ok(old) if !is_ours(&old) && !self.force => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not Lichen's; pass --force to replace it",
                        target.display()
                    ),
                ))
            }
            _ => {}
        }
        fs::create_dir_all(&self.bin_dir)?;
        let bin = self.bin_dir.join("lichen");
        let data = fs::read(exe)?;
        let same = fs::read(&bin).map(|old| old == data).unwrap_or(false);
        if !same {
            write_atomic(&bin, &data)?;
            fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))?;
            done.push(format!("installed {}", bin.display()));
        }
        let link = self.bin_dir.join("lichen-ipam");
        if fs::read_link(&link).ok().as_deref() != Some(Path::new("lichen")) {
            let tmp = self.bin_dir.join(".lichen-ipam.tmp");
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink("lichen", &tmp)?;
            fs::rename(&tmp, &link)?;
            done.push(format!("linked {} -> lichen", link.display()));
        }
        fs::create_dir_all(&self.conf_dir)?;
        if fs::read_to_string(&target).ok().as_deref() != Some(self.conflist.as_str()) {
            write_atomic(&target, self.conflist.as_bytes())?;
            done.push(format!("wrote {}", target.display()));
        }
        // containerd and CRI-O use the first conflist in name order: say if another one wins.
        for other in earlier_conflists(&self.conf_dir)? {
            done.push(format!(
                "warning: {} sorts before {CONFLIST_NAME} and will be used instead; remove it",
                other.display()
            ));
        }
        Ok(done)
    }
}

/// Removes what `install` put there (only a conflist that is Lichen's).
pub fn uninstall(bin_dir: &Path, conf_dir: &Path) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    let target = conf_dir.join(CONFLIST_NAME);
    match fs::read_to_string(&target) {
        Ok(t) if is_ours(&t) => {
            fs::remove_file(&target)?;
            done.push(format!("removed {}", target.display()));
        }
        Ok(_) => done.push(format!("kept {}: it is not Lichen's", target.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for name in ["lichen-ipam", "lichen"] {
        let p = bin_dir.join(name);
        match fs::remove_file(&p) {
            Ok(()) => done.push(format!("removed {}", p.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn earlier_conflists(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
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
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lichen-install-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn installs_atomically_idempotently_and_uninstalls() {
        let d = tmp("a");
        let exe = d.join("src-lichen");
        fs::create_dir_all(&d).unwrap();
        fs::write(&exe, b"\x7fELF binary").unwrap();
        let inst = Install {
            bin_dir: d.join("bin"),
            conf_dir: d.join("net.d"),
            conflist: DEFAULT_CONFLIST.to_owned(),
            force: false,
        };
        let done = inst.run(&exe).unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert_eq!(fs::read(d.join("bin/lichen")).unwrap(), b"\x7fELF binary");
        let mode = fs::metadata(d.join("bin/lichen"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_link(d.join("bin/lichen-ipam")).unwrap(),
            Path::new("lichen")
        );
        assert_eq!(
            fs::read_to_string(d.join("net.d").join(CONFLIST_NAME)).unwrap(),
            DEFAULT_CONFLIST
        );
        assert!(
            inst.run(&exe).unwrap().is_empty(),
            "a second install changes nothing"
        );
        let gone = uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
        assert_eq!(gone.len(), 3, "{gone:?}");
        assert!(fs::read_dir(d.join("bin")).unwrap().next().is_none());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn never_clobbers_a_foreign_conflist_unless_forced() {
        let d = tmp("b");
        fs::create_dir_all(d.join("net.d")).unwrap();
        fs::write(d.join("src"), b"x").unwrap();
        let foreign = r#"{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}"#;
        fs::write(d.join("net.d").join(CONFLIST_NAME), foreign).unwrap();
        fs::write(d.join("net.d/05-other.conflist"), foreign).unwrap();
        let mut inst = Install {
            bin_dir: d.join("bin"),
            conf_dir: d.join("net.d"),
            conflist: DEFAULT_CONFLIST.to_owned(),
            force: false,
        };
        let e = inst.run(&d.join("src")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            fs::read_to_string(d.join("net.d").join(CONFLIST_NAME)).unwrap(),
            foreign
        );
        assert!(!d.join("bin").exists(), "a refused install changes nothing");
        inst.force = true;
        let done = inst.run(&d.join("src")).unwrap();
        assert!(
            done.iter().any(|l| l.contains("05-other.conflist")),
            "{done:?}"
        );
        // uninstall keeps a conflist that is not ours
        fs::write(d.join("net.d").join(CONFLIST_NAME), foreign).unwrap();
        let gone = uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
        assert!(gone.iter().any(|l| l.starts_with("kept")), "{gone:?}");
        assert!(d.join("net.d").join(CONFLIST_NAME).exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
