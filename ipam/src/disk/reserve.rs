//! The steps of a reservation after the index (see "Crash safety" in [`crate::disk`]): the
//! lease file linked into place whole (steps 3 to 5), then the round-robin cursor (step 6).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{lease_text, DiskStore};
use crate::{fsio, IpamError};

impl DiskStore {
    /// Steps 3 to 5: the lease file appears, whole, under its name: linked from the text
    /// prepared before the lock when there is one, else from a temp written and fsynced now.
    /// `Ok(false)` if the address was leased meanwhile.
    pub(super) fn link_lease(
        &self,
        cid: &str,
        ifname: &str,
        ip: IpAddr,
    ) -> Result<bool, IpamError> {
        if let Some(prepared) = self.prepared_for(&lease_text(cid, ifname)) {
            match fsio::link_new(&prepared, &self.lease_path(ip)) {
                Ok(linked) => return Ok(linked),
                Err(e) => log::debug!("ipam: prepared lease not usable ({e}): writing it now"),
            }
        }
        let tmp = self.write_lease_temp(cid, ifname)?;
        self.publish_lease(&tmp, ip)
    }

    /// Step 3: the lease text in a fsynced temp file.
    pub(crate) fn write_lease_temp(&self, cid: &str, ifname: &str) -> Result<PathBuf, IpamError> {
        fsio::write_temp(&self.tmp_dir(), lease_text(cid, ifname).as_bytes(), true)
    }

    /// Steps 4 and 5: link the temp to the lease name (never replacing one), drop the temp.
    /// `Ok(false)` if the address was leased meanwhile.
    pub(crate) fn publish_lease(&self, tmp: &Path, ip: IpAddr) -> Result<bool, IpamError> {
        let linked = fsio::link_new(tmp, &self.lease_path(ip));
        if let Err(e) = fsio::remove_optional(tmp) {
            log::warn!("ipam: {e} (the next locked operation removes it)");
        }
        linked
    }

    /// Step 6: the round-robin cursor. Only a hint, for us as for host-local (which writes it
    /// in place too): a lost or torn cursor restarts round-robin at the range start, or at
    /// whatever address it reads as. So it is overwritten in place, not fsynced.
    pub(super) fn write_cursor(&self, range_set: usize, ip: IpAddr) -> Result<(), IpamError> {
        let text = ip.to_string();
        fsio::overwrite(&self.cursor_path(range_set), text.as_bytes())
    }
}
