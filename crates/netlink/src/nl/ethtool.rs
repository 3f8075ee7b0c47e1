//! The legacy ethtool ioctl for one feature: transmit checksum offload.
//!
//! `SIOCETHTOOL` on any socket of the namespace, with a `struct ifreq` whose data points at a
//! `struct ethtool_value { u32 cmd; u32 data; }` (include/uapi/linux/ethtool.h):
//! `ETHTOOL_GTXCSUM` reads whether any checksum feature is on, `ETHTOOL_STXCSUM` turns the
//! device's checksum features (NETIF_F_CSUM_MASK: `tx-checksum-ip-generic` on a VXLAN device)
//! on or off. This is what `ethtool -K DEV tx off` does, without the `ethtool` binary.
//! The socket is opened in the calling thread's network namespace, like [`super::Nl::open`].

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_STXCSUM: u32 = 0x17;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut EthtoolValue,
    /// The rest of the kernel's `ifreq` union (24 bytes on 64-bit), never read.
    _pad: [u8; 16],
}

fn ethtool(dev: &str, cmd: u32, data: u32) -> io::Result<u32> {
    if dev.is_empty() || dev.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {dev:?}"),
        ));
    }
    // SAFETY: a plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a socket we just opened and own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    for (d, s) in req.name.iter_mut().zip(dev.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: req is a valid ifreq whose data points at a live ethtool_value; both outlive
    // the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.data)
}

/// Whether transmit checksum offload is on for `dev`.
pub fn tx_checksum(dev: &str) -> io::Result<bool> {
    ethtool(dev, ETHTOOL_GTXCSUM, 0).map(|v| v != 0)
}

/// Turns transmit checksum offload on or off for `dev`.
pub fn set_tx_checksum(dev: &str, on: bool) -> io::Result<()> {
    ethtool(dev, ETHTOOL_STXCSUM, u32::from(on)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::{enter_node, run_ok};

    #[test]
    fn tx_checksum_is_turned_off_and_on_and_read_back() {
        testkit::require_root!();
        if testkit::skip_emulated("qemu-user may not translate SIOCETHTOOL") {
            return;
        }
        enter_node();
        run_ok(
            "ip",
            &[
                "link", "add", "lice0", "type", "veth", "peer", "name", "lice1",
            ],
        );
        assert!(
            tx_checksum("lice0").unwrap(),
            "a veth starts with tx csum on"
        );
        set_tx_checksum("lice0", false).unwrap();
        assert!(!tx_checksum("lice0").unwrap());
        assert!(
            tx_checksum("lice1").unwrap(),
            "only the named device changed"
        );
        set_tx_checksum("lice0", true).unwrap();
        assert!(tx_checksum("lice0").unwrap());
        let e = tx_checksum("nosuch0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }
}
