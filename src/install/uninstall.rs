//! `lichen uninstall`: removes what `lichen install` put in the CNI dirs (only what it recorded,
//! and a conflist only when it is Lichen's); with `--all` also what the agent made on the node
//! (done by the caller with the agent's own cleanup: routes, devices, nftables tables, files).

use std::fs;
use std::io;
use std::path::Path;

use super::error::{Context, InstallError};
use super::record::{self, Record};
use super::{is_ours, Chain, CONFLIST_NAME};
use crate::cni::json::Object;
use crate::cni::Code;

/// The bridge the installed conflist in `conf_dir` names (read it before `uninstall` removes the
/// conflist), `lichen0` when it names none or cannot be read.
pub fn installed_bridge(conf_dir: &Path) -> String {
    fs::read_to_string(conf_dir.join(CONFLIST_NAME))
        .ok()
        .and_then(|t| bridge_of(&t))
        .unwrap_or_else(|| "lichen0".to_owned())
}

fn bridge_of(text: &str) -> Option<String> {
    let chain = Chain::parse(text).ok()?;
    let (_, first) = chain.plugins.first()?;
    Object::parse("", first.as_bytes(), Code::InvalidConfig)
        .ok()?
        .text("bridge")
        .ok()?
}

/// Removes the conflist (if Lichen's) and the names recorded in the bin dir (plus `lichen` and
/// `lichen-ipam`, which every install made, also before the record existed).
pub fn uninstall(bin_dir: &Path, conf_dir: &Path) -> Result<Vec<String>, InstallError> {
    let mut done = Vec::new();
    let target = conf_dir.join(CONFLIST_NAME);
    match fs::read_to_string(&target) {
        Ok(t) if is_ours(&t) => {
            fs::remove_file(&target).context("removing", &target)?;
            done.push(format!("removed {}", target.display()));
        }
        Ok(_) => done.push(format!("kept {}: it is not Lichen's", target.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("reading", &target),
    }
    let mut made = Record::read(bin_dir);
    made.add("lichen");
    made.add("lichen-ipam");
    // the binary last: an uninstall run from the bin dir's own copy still finishes
    let mut names: Vec<&str> = made.names().filter(|n| *n != "lichen").collect();
    names.extend(["lichen", record::FILE]);
    for name in names {
        let p = bin_dir.join(name);
        match fs::remove_file(&p) {
            Ok(()) if name == record::FILE => {}
            Ok(()) => done.push(format!("removed {}", p.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("removing", &p),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_comes_from_the_conflist() {
        assert_eq!(
            bridge_of(super::super::DEFAULT_CONFLIST).as_deref(),
            Some("lichen0")
        );
        assert_eq!(
            bridge_of(r#"{"name":"n","plugins":[{"type":"lichen","bridge":"br9"}]}"#).as_deref(),
            Some("br9")
        );
        assert_eq!(
            bridge_of(r#"{"name":"n","plugins":[{"type":"lichen"}]}"#),
            None
        );
    }
}
