//! The WireGuard part of the pass: after the plan made or adjusted `lichen-wg`, the kernel's
//! controller syncs its key, port and peers (see `crate::agent::wireguard` for why after the
//! routes); the report's WireGuard section. This node's public key is in the section from the
//! first pass on, even while the node waits for its podCIDR: in cluster-dir mode the operator
//! copies it from `lichen status` into the Node file.

use lichen_backends::{BackendConf, Desired, PeerState, Via};
use lichen_wireguard::Key;

use super::{ReconcileError, Reconciler};
use crate::agent::error::chain;
use crate::agent::kernel::Kernel;
use crate::agent::report::Report;
use crate::agent::wireguard::WgReport;

impl<K: Kernel> Reconciler<K> {
    /// The section before any sync: the key, no path, no peers (WireGuard backend only).
    pub(super) fn wg_section(&self, report: &mut Report) {
        let BackendConf::Wireguard(w) = self.netconf.backend else {
            report.wireguard = None;
            return;
        };
        if report.wireguard.is_none() {
            report.wireguard = self.wg_public_key.map(|k| WgReport {
                public_key: Key(k),
                path: None,
                listen_port: w.listen_port,
                peers: Vec::new(),
            });
        }
    }

    /// Syncs the device's key, port and peers; on failure its peers are failed (the device
    /// does not have them) and the last section stays (what the device had).
    pub(super) fn sync_wireguard(&mut self, desired: &Desired, report: &mut Report) {
        let Some(dev) = &desired.wireguard else {
            return;
        };
        match self.kernel.sync_wireguard(dev) {
            Ok(r) => report.wireguard = Some(r),
            Err(e) => {
                let why = chain(&e).to_string();
                for p in report.peers.iter_mut() {
                    if p.state == PeerState::Programmed(Via::Wireguard) {
                        p.state = PeerState::Failed(why.clone());
                    }
                }
                report.last_errors.push(ReconcileError::Wireguard(e).line());
            }
        }
    }
}
