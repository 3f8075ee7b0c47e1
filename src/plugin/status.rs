//! STATUS (CNI 1.1): could an ADD succeed now? The store must be usable, the subnet known, and
//! every range set must have a free address. Otherwise code 50 with what is missing.

use super::ipam::{self, Allocator};
use super::{delegate, Output};
use crate::cni::{CniError, Code, Command, Env, NetConf};

pub fn run(env: &Env, conf: &NetConf, stdin: &[u8]) -> Result<Output, CniError> {
    match Allocator::of(conf) {
        Allocator::Builtin => builtin(conf).map(|_| None),
        Allocator::Delegate(p) => match delegate::exec(p, Command::Status, env, stdin) {
            Ok(_) => Ok(None),
            // Plugins older than CNI 1.1 do not know STATUS: nothing says they cannot serve ADD.
            Err(e)
                if e.code == Code::InvalidEnv as u32 || e.msg.contains("unknown CNI_COMMAND") =>
            {
                Ok(None)
            }
            Err(e) => Err(CniError::new(Code::NotAvailable, e.msg)),
        },
    }
}

pub fn builtin(conf: &NetConf) -> Result<(), CniError> {
    let unavailable = |e: CniError| CniError::new(Code::NotAvailable, e.msg);
    let (sets, _) = ipam::range_sets(conf).map_err(unavailable)?;
    let free = ipam::open(conf)
        .and_then(|s| s.free_counts(&sets).map_err(ipam::ipam_err))
        .map_err(unavailable)?;
    if let Some((set, _)) = sets.iter().zip(&free).find(|(_, n)| **n == 0) {
        return Err(CniError::new(
            Code::NotAvailable,
            format!("no free address left in range set {}", set.describe()),
        ));
    }
    Ok(())
}
