//! The node's bridge: created on the first ADD with a MAC of its own, its gateway addresses,
//! and the rollback of what one failed ADD changed on it.

use std::io;

use ipnet::IpNet;

use lichen_backends::fnv1a;

use super::{find, info, is_v6_link_local, kernel, BridgeSpec, DpError, LinkInfo};
use crate::nl::{self, Link, LinkChange, LinkId, LinkKind, NewLink, Nl};

/// Whether the bridge exists and is up, with its addresses (STATUS, CHECK): `None` when it is
/// missing or down; `NotABridge` when the name is taken by something else.
pub fn bridge_state(name: &str) -> Result<Option<(LinkInfo, Vec<IpNet>)>, DpError> {
    let mut host = Nl::open().map_err(kernel("open netlink"))?;
    let Some(br) = find(&mut host, name)? else {
        return Ok(None);
    };
    if !br.is_kind("bridge") {
        return Err(DpError::NotABridge(name.into()));
    }
    if !br.up {
        return Ok(None);
    }
    let addrs = host
        .addrs(Some(br.index))
        .map_err(kernel("list bridge addresses"))?
        .into_iter()
        .map(|a| a.net)
        .filter(|n| !is_v6_link_local(n))
        .collect();
    Ok(Some((info(&br), addrs)))
}

/// The bridge's MAC: locally administered unicast, `0e:6b:` + 4 bytes of a hash of its name
/// (the VTEP MACs derived from podCIDRs start with `0e:6c:`).
pub fn bridge_mac(name: &str) -> [u8; 6] {
    let h = fnv1a(name.as_bytes()).to_be_bytes();
    [0x0e, 0x6b, h[0], h[1], h[2], h[3]]
}

/// The bridge, created if missing (a concurrent creator wins harmlessly), with its MTU, up,
/// and with the gateway addresses; with what this call changed. Undoes that itself when it
/// fails part way.
pub(super) fn ensure_bridge(nl: &mut Nl, spec: &BridgeSpec) -> Result<(Link, Made), DpError> {
    let mut made = Made::default();
    match ensure(nl, spec, &mut made) {
        Ok(br) => Ok((br, made)),
        Err(e) => {
            made.undo(nl, &spec.name);
            Err(e)
        }
    }
}

fn ensure(nl: &mut Nl, spec: &BridgeSpec, made: &mut Made) -> Result<Link, DpError> {
    let mut br = match find(nl, &spec.name)? {
        Some(br) => br,
        None => {
            let new = NewLink {
                name: &spec.name,
                mtu: spec.mtu,
                up: true,
                // A MAC of its own: otherwise the bridge takes its lowest port's, which changes
                // as pods come and go and leaves pods with a stale gateway MAC.
                mac: Some(bridge_mac(&spec.name)),
                ..NewLink::default()
            };
            match nl.create_link(&new, &LinkKind::Bridge) {
                Ok(()) => made.bridge = true,
                Err(e) if nl::is_exists(&e) => {}
                Err(e) => return Err(DpError::Kernel(format!("create bridge {}", spec.name), e)),
            }
            find(nl, &spec.name)?.ok_or_else(|| {
                DpError::Kernel(
                    format!("bridge {} vanished after creation", spec.name),
                    io::Error::from_raw_os_error(libc::ENODEV),
                )
            })?
        }
    };
    if !br.is_kind("bridge") {
        return Err(DpError::NotABridge(spec.name.clone()));
    }
    let change = LinkChange {
        mtu: spec.mtu.filter(|&m| m != br.mtu),
        up: (!br.up).then_some(true),
        ..LinkChange::default()
    };
    if change.mtu.is_some() || change.up.is_some() {
        nl.set_link(LinkId::Index(br.index), &change)
            .map_err(|e| DpError::Kernel(format!("set up bridge {}", spec.name), e))?;
        br.mtu = change.mtu.unwrap_or(br.mtu);
        br.up = true;
    }
    for &addr in &spec.addresses {
        // No DAD: the gateway must answer at once, and the bridge is ours.
        match nl.add_addr(br.index, addr, true) {
            Ok(()) => made.addresses.push(addr),
            Err(e) if nl::is_exists(&e) => {}
            Err(e) => {
                return Err(DpError::Kernel(
                    format!("add {addr} to bridge {}", spec.name),
                    e,
                ))
            }
        }
    }
    Ok(br)
}

/// What one ADD changed on the bridge: whether it created it, and the addresses it added (not
/// those that were there already).
#[derive(Debug, Default)]
pub(super) struct Made {
    bridge: bool,
    addresses: Vec<IpNet>,
}

impl Made {
    /// Rolls back a failed ADD's changes to the bridge, once its own veth is gone. Only while
    /// the bridge has no port: a port is another pod, whose ADD may have found our address
    /// already there (EEXIST) and relies on it; then the changes stay, and a warning says so.
    /// Best effort: a rollback error is logged, the ADD's own error is what the caller reports.
    pub(super) fn undo(self, nl: &mut Nl, name: &str) {
        if !self.bridge && self.addresses.is_empty() {
            return;
        }
        let ports = find(nl, name).and_then(|br| {
            let Some(br) = br else { return Ok(None) };
            let links = nl
                .links()
                .map_err(|e| DpError::Kernel("list links".into(), e))?;
            let ports = links.iter().filter(|l| l.master == Some(br.index)).count();
            Ok(Some((br.index, ports)))
        });
        let index = match ports {
            Ok(Some((index, 0))) => index,
            Ok(None) => return,
            Ok(Some(_)) => {
                log::warn!(
                    "rollback: {name} has ports of other pods: keeping {:?}{}",
                    self.addresses,
                    if self.bridge { " and the bridge" } else { "" }
                );
                return;
            }
            Err(e) => {
                log::warn!("rollback: cannot inspect {name}: {e}");
                return;
            }
        };
        if self.bridge {
            if let Err(e) = nl::missing_ok(nl.delete_link(LinkId::Index(index))) {
                log::warn!("rollback: cannot delete bridge {name}: {e}");
            }
            return;
        }
        for a in self.addresses {
            if let Err(e) = nl::missing_ok(nl.delete_addr(index, a)) {
                log::warn!("rollback: cannot remove {a} from {name}: {e}");
            }
        }
    }
}
