//! The NetworkPolicy ruleset in the kernel: a compiled [`Ruleset`] becomes table
//! `inet lichen-policy` (see [`encode`] for the layout), so turning policy off is deleting one
//! table, and the node rules' table `inet lichen` never mixes with it. Built with the generic
//! nf_tables library ([`lichen_netlink::nft`]).
//!
//! Every change is one checked transaction (valid only at the generation read just before
//! it, rebuilt when another writer got in between). Given what the last apply put there, the
//! batch holds only the difference ([`incremental`]): element changes when only set and map
//! elements differ (pods coming and going, label changes, [`diff`]); for a policy added,
//! edited or deleted also the chains and sets that appear or disappear and a flush and
//! refill of the chains whose rules changed. Without a previous ruleset (first apply, the
//! agent's periodic repair pass) the table is replaced (add, delete, add and everything in
//! it), and so it is when the kernel refuses the incremental batch (someone changed our
//! table).

mod diff;
mod encode;
mod incremental;
#[cfg(test)]
mod tests;

use std::io;

pub use diff::{element_changes, Change};
pub use encode::{policy_table, size, twin, TABLE};
pub use incremental::Plan;

use lichen_netlink::nft::readback::{read_table, TableDump};
use lichen_netlink::nft::{errno, generation, list_table, Batch, ChainSummary, Socket};

use crate::Ruleset;

/// What an apply sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The table was replaced, in a batch of this many messages.
    Replaced(usize),
    /// Only elements changed, in a batch of this many messages.
    Elements(usize),
    /// Chains, rules or sets changed too; the table was edited in place, in a batch of this
    /// many messages.
    Incremental(usize),
    /// Nothing differed from `old`.
    Unchanged,
}

/// Makes table `inet lichen-policy` hold `new`. `old` is what the last successful apply put
/// there (`None`: unknown, replace). Runs in the calling thread's network namespace.
pub fn apply_policy(new: &Ruleset, old: Option<&Ruleset>) -> io::Result<Applied> {
    let sock = Socket::open()?;
    if let Some(old) = old {
        let plan = Plan::new(old, new);
        if plan.is_empty() {
            return Ok(Applied::Unchanged);
        }
        match checked(&sock, |b| plan.encode(b)) {
            Ok(n) if plan.is_elements_only() => return Ok(Applied::Elements(n)),
            Ok(n) => return Ok(Applied::Incremental(n)),
            Err(e) => log::warn!("incremental policy update refused ({e}); replacing the table"),
        }
    }
    checked(&sock, |b| encode::replace(b, new)).map(Applied::Replaced)
}

/// Deletes table `inet lichen-policy` if it exists.
pub fn remove_policy_table() -> io::Result<()> {
    let sock = Socket::open()?;
    checked(&sock, encode::remove).map(|_| ())
}

/// The policy table's chains with their rule counts, `None` when absent.
pub fn policy_status() -> io::Result<Option<Vec<ChainSummary>>> {
    list_table(&Socket::open()?, &policy_table())
}

/// Table `inet lichen-policy` as the kernel holds it (without handles), `None` when absent:
/// what a churn test compares with a fresh replace of the same compile.
pub fn read_policy_table() -> io::Result<Option<TableDump>> {
    read_table(&Socket::open()?, &policy_table())
}

/// Builds the batch at the current generation and applies it; rebuilds when another writer
/// committed in between (up to 3 times). Returns the number of messages.
fn checked(sock: &Socket, build: impl Fn(&mut Batch)) -> io::Result<usize> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        let mut batch = Batch::checked(generation(sock)?);
        build(&mut batch);
        match sock.apply(&batch) {
            Err(e) if errno(&e) == Some(libc::ERESTART) && attempt < ATTEMPTS => attempt += 1,
            other => return other.map(|()| batch.len()),
        }
    }
}
