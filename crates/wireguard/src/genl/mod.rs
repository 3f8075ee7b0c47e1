//! Kernel WireGuard over generic netlink (include/uapi/linux/wireguard.h of the kernel; the
//! controller's numbers from include/uapi/linux/genetlink.h): resolving the "wireguard"
//! family ([`Genl::family_id`], CTRL_CMD_GETFAMILY to nlctrl) and WG_CMD_SET_DEVICE /
//! WG_CMD_GET_DEVICE ([`KernelWg`], messages in [`wg`]). Creating the device
//! (`ip link add … type wireguard`) is rtnetlink's job, not here.
//!
//! Proven here: the family lookup against the running kernel's nlctrl, and that a kernel
//! without WireGuard gives [`GenlError::NoKernelWireGuard`]; the WireGuard messages only
//! against the header's documented layout (this machine's kernel has no WireGuard module).

mod socket;
pub mod wg;
pub mod wire;

use std::fmt;
use std::io;

pub use socket::Genl;
use wire::Msg;

use crate::config::{DeviceConfig, DeviceState};

/// The controller's family id and numbers (genetlink.h).
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// Why a generic netlink request failed.
#[derive(Debug)]
pub enum GenlError {
    /// The socket failed.
    Io(io::Error),
    /// The kernel refused `op` with this (positive) errno.
    Kernel { op: &'static str, errno: i32 },
    /// The kernel has no "wireguard" generic netlink family: no WireGuard module (use a
    /// userspace implementation).
    NoKernelWireGuard,
    /// A reply did not have the layout the header documents.
    Malformed(&'static str),
}

impl fmt::Display for GenlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenlError::Io(e) => write!(f, "generic netlink: {e}"),
            GenlError::Kernel { op, errno } => write!(
                f,
                "generic netlink: {op}: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            GenlError::NoKernelWireGuard => f.write_str(
                "no kernel WireGuard: the kernel has no \"wireguard\" generic netlink family",
            ),
            GenlError::Malformed(what) => write!(f, "generic netlink: malformed reply: {what}"),
        }
    }
}

impl std::error::Error for GenlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenlError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for GenlError {
    fn from(e: io::Error) -> Self {
        GenlError::Io(e)
    }
}

impl Genl {
    /// The id of the generic netlink family `name`; `None` when the kernel has no such family.
    pub fn family_id(&self, name: &str) -> Result<Option<u16>, GenlError> {
        let mut m = Msg::new(
            GENL_ID_CTRL,
            wire::NLM_F_REQUEST | wire::NLM_F_ACK,
            self.next_seq(),
            CTRL_CMD_GETFAMILY,
            1,
        );
        m.put_str(CTRL_ATTR_FAMILY_NAME, name);
        let replies = match self.request(&m.finish(), "CTRL_CMD_GETFAMILY") {
            Err(GenlError::Kernel { errno, .. }) if errno == libc::ENOENT => return Ok(None),
            r => r?,
        };
        let id = replies
            .iter()
            .flat_map(|r| wire::attrs(r))
            .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
            .and_then(|(_, v)| wire::ne::<2>(v))
            .ok_or(GenlError::Malformed(
                "CTRL_CMD_GETFAMILY reply without a family id",
            ))?;
        Ok(Some(u16::from_ne_bytes(id)))
    }
}

/// Kernel WireGuard devices, through the "wireguard" generic netlink family.
#[derive(Debug)]
pub struct KernelWg {
    sock: Genl,
    family: u16,
}

impl KernelWg {
    /// Opens a socket and resolves the family: [`GenlError::NoKernelWireGuard`] when the
    /// kernel has none.
    pub fn open() -> Result<KernelWg, GenlError> {
        let sock = Genl::open()?;
        let family = sock
            .family_id(wg::FAMILY_NAME)?
            .ok_or(GenlError::NoKernelWireGuard)?;
        Ok(KernelWg { sock, family })
    }

    /// Applies `config` to the device named `ifname` (one message: enough for the dozens of
    /// peers of an edge cluster; the header's splitting of larger configurations is not done).
    pub fn set(&self, ifname: &str, config: &DeviceConfig) -> Result<(), GenlError> {
        let m = wg::encode_set(self.family, self.sock.next_seq(), ifname, config);
        self.sock.request(&m, "WG_CMD_SET_DEVICE").map(drop)
    }

    /// Reads the device named `ifname` back (the dump's messages coalesced).
    pub fn get(&self, ifname: &str) -> Result<DeviceState, GenlError> {
        let m = wg::encode_get(self.family, self.sock.next_seq(), ifname);
        let replies = self.sock.request(&m, "WG_CMD_GET_DEVICE")?;
        wg::decode_device(&replies).map_err(GenlError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// qemu-user opens only NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT and NETLINK_AUDIT sockets
    /// (qemu linux-user/syscall.c, `do_socket`).
    const QEMU_NETLINK: &str = "qemu-user refuses NETLINK_GENERIC sockets";

    #[test]
    fn nlctrl_resolves_itself_and_a_missing_family_is_none() {
        if testkit::skip_emulated(QEMU_NETLINK) {
            return;
        }
        let sock = Genl::open().unwrap();
        assert_eq!(sock.family_id("nlctrl").unwrap(), Some(GENL_ID_CTRL));
        assert_eq!(sock.family_id("lichen-nofam").unwrap(), None);
    }

    #[test]
    fn a_kernel_without_wireguard_says_so() {
        if testkit::skip_emulated(QEMU_NETLINK) {
            return;
        }
        let e = match KernelWg::open() {
            Ok(_) => return eprintln!("SKIPPED: this kernel has WireGuard"),
            Err(e) => e,
        };
        assert!(matches!(e, GenlError::NoKernelWireGuard), "{e:?}");
        assert!(e.to_string().starts_with("no kernel WireGuard"), "{e}");
    }
}
