//! The reconciler's answers to field failures (see [`crate::agent::survey`] and
//! [`crate::agent::stale`]): the kernel's refusals explained, the survey of what else on the
//! node breaks pod traffic, transmit checksum offload kept off on the VXLAN device, and peers
//! that lost their InternalIP kept on their last routes.

use std::io;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use lichen_backends::{BackendConf, Desired, Op};

use super::{ReconcileError, Reconciler};
use crate::agent::kernel::Kernel;
use crate::agent::report::Report;
use crate::agent::stale::LastAddresses;
use crate::agent::survey::{self, Foreign};

/// How often the node is surveyed while all is well (a pass with errors surveys at once).
pub const SURVEY_EVERY: Duration = Duration::from_secs(60);

/// What the reconciler keeps between passes for these answers.
#[derive(Debug, Default)]
pub struct FieldState {
    /// When the node was last surveyed, and what the survey found.
    surveyed: Option<Instant>,
    foreign: Foreign,
    /// The warnings last logged (each is logged once while it holds).
    logged: Vec<String>,
    /// Whether the last surveyed pass had errors (its survey may name what since went).
    failed: bool,
    /// Every peer's last InternalIPs.
    pub last_addresses: LastAddresses,
}

impl<K: Kernel> Reconciler<K> {
    /// The error for a step the kernel refused: with what to do, when Lichen knows.
    pub(super) fn refused(&mut self, op: &Op, e: io::Error) -> ReconcileError {
        if e.raw_os_error() == Some(libc::EEXIST) {
            // The culprit may be new since the last survey.
            if let Ok(f) = self.kernel.foreign(&self.netconf.network) {
                self.field.foreign = f;
            }
        }
        let direct = matches!(self.netconf.backend, BackendConf::Vxlan(v) if v.direct_routing);
        ReconcileError::Refused {
            op: super::op_text(op),
            hint: survey::explain(op, &e, &self.field.foreign, direct),
            source: e,
        }
    }

    /// After the plan: keeps transmit checksum offload off on the VXLAN device when the
    /// net-conf asks (`TxChecksumOffload: false`), also on a device just re-created.
    pub(super) fn sync_offload(&mut self, desired: &Desired, report: &mut Report) {
        let (BackendConf::Vxlan(v), Some(dev)) = (self.netconf.backend, &desired.device) else {
            return;
        };
        if v.tx_checksum_offload {
            return;
        }
        match self.kernel.set_tx_checksum(&dev.name, false) {
            Ok(true) => log::info!(
                "turned transmit checksum offload off on {} (TxChecksumOffload: false)",
                dev.name
            ),
            Ok(false) => {}
            // The device did not come up this pass: that error is reported already.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
            Err(source) => report.last_errors.push(
                ReconcileError::Offload {
                    dev: dev.name.clone(),
                    source,
                }
                .line(),
            ),
        }
    }

    /// Surveys the node when due (first pass, every [`SURVEY_EVERY`], a failing pass and the
    /// one after it) and puts the warnings in the report; a new warning is logged once.
    pub(super) fn survey(&mut self, own_subnets: &[IpNet], report: &mut Report) {
        let failed = !report.last_errors.is_empty();
        let due = failed
            || self.field.failed
            || self
                .field
                .surveyed
                .is_none_or(|t| t.elapsed() >= SURVEY_EVERY);
        self.field.failed = failed;
        if due {
            match self.kernel.foreign(&self.netconf.network) {
                Ok(f) => self.field.foreign = f,
                Err(e) => log::debug!("survey: {e}"),
            }
            self.field.surveyed = Some(Instant::now());
        }
        let found = survey::warnings(&self.field.foreign, &self.netconf.network, own_subnets);
        for w in &found {
            if !self.field.logged.contains(w) {
                log::warn!("{}", w.replace('\n', " "));
            }
        }
        report.warnings.extend(found.iter().cloned());
        self.field.logged = found;
    }
}
