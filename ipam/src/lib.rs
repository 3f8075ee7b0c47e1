//! Lichen's file-backed IPAM.
//!
//! On disk it keeps the layout of the reference `host-local` IPAM so a node can switch between
//! the two without losing or duplicating an address:
//!
//! ```text
//! <dataDir>/<network>/<ip>                   "<containerID>\r\n<ifname>" (host-local's older files: "<containerID>")
//! <dataDir>/<network>/last_reserved_ip.<i>   round-robin cursor of range set i
//! <dataDir>/<network>/lock                   flock()ed for the whole operation
//! ```
//!
//! Unlike host-local: lease files are written atomically (temp file, fsync, `link()` to the final
//! name so an existing lease is never overwritten, unlink the temp), lock errors are errors,
//! neither ADD nor release reads every lease file (a per-attachment index and a cache of every
//! lease's holder, checked with one `readdir`), and GC exists. The crash-safety argument, and
//! why one fsync per ADD (taken before the lock) is all it needs, are in [`disk`].
//!
//! The allocator ([`allocator`]) knows nothing about disk: it works against the [`Store`] trait
//! and is tested against an in-memory store ([`MemStore`]); [`disk::DiskStore`] is the real one.

pub mod allocator;
mod cache;
pub mod disk;
pub mod error;
mod fsio;
mod index;
mod ipmath;
pub mod mem;
pub mod range;
pub mod store;

#[cfg(test)]
mod tests;

pub use allocator::{Allocation, Ipam};
pub use disk::{DiskLock, DiskStore};
pub use error::IpamError;
pub use mem::MemStore;
pub use range::{Range, RangeSet};
pub use store::{Lease, Store};
