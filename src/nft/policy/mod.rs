//! The NetworkPolicy ruleset in the kernel: a compiled [`Ruleset`] becomes table
//! `inet lichen-policy` (see [`encode`] for the layout), so turning policy off is deleting one
//! table, and the node rules' table `inet lichen` never mixes with it.
//!
//! Every change is one checked transaction (valid only at the generation read just before
//! it, rebuilt when another writer got in between). When only set and map elements differ
//! from what the last apply put there (pods coming and going, label changes), the batch holds
//! just those element changes ([`diff`]); anything else replaces the table (add, delete, add
//! and everything in it). An element batch the kernel refuses (someone changed our table)
//! falls back to the replacement.

mod diff;
mod encode;

use std::io;

pub use diff::{element_changes, Change};
pub use encode::{policy_table, size, twin, TABLE};

use super::socket::Socket;
use super::{errno, generation, list_table, Batch, ChainSummary};
use crate::policy::Ruleset;

/// What an apply sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The table was replaced, in a batch of this many messages.
    Replaced(usize),
    /// Only elements changed, in a batch of this many messages.
    Elements(usize),
    /// Nothing differed from `old`.
    Unchanged,
}

/// Makes table `inet lichen-policy` hold `new`. `old` is what the last successful apply put
/// there (`None`: unknown, replace). Runs in the calling thread's network namespace.
pub fn apply_policy(new: &Ruleset, old: Option<&Ruleset>) -> io::Result<Applied> {
    let sock = Socket::open()?;
    if let Some(changes) = old.and_then(|o| element_changes(o, new)) {
        if changes.is_empty() {
            return Ok(Applied::Unchanged);
        }
        let sent = checked(&sock, |b| diff::encode(b, &changes));
        match sent {
            Ok(n) => return Ok(Applied::Elements(n)),
            Err(e) => log::warn!("policy element update refused ({e}); replacing the table"),
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
