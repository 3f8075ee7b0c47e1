//! The host-local compatible on-disk store. See the crate docs for the layout.

use std::path::PathBuf;

/// The store of one network directory.
pub struct DiskStore {
    pub dir: PathBuf,
}
