//! WireGuard device control for Lichen (issue 14): the layer a WireGuard backend stands on.
//! It knows nothing of Lichen's nodes, subnets or flags.
//!
//! - [`keyfile`]: the node's private key file (`wg genkey`'s format; created 0600 in a 0700
//!   directory, atomically; an existing one used as is; too-open or wrong files refused with
//!   the reason). [`key`]: keys in base64 (as `wg` prints them) and hex (as the configuration
//!   protocol wants them), generation from getrandom(2) clamped as `wg genkey` does.
//! - [`config`]: a change to a device ([`DeviceConfig`], [`PeerConfig`]: add/update, update
//!   only, remove, replace allowed IPs) and a device read back ([`DeviceState`], per peer
//!   endpoint, allowed IPs, last handshake, bytes, keepalive), shared by the two control paths:
//! - [`uapi`]: the cross-platform configuration protocol over a unix socket, as wireguard-go
//!   serves it; [`userspace`]: starting wireguard-go for a device, waiting for its socket,
//!   stopping it;
//! - [`genl`]: kernel WireGuard over generic netlink (family lookup, SET_DEVICE, GET_DEVICE).
//! - [`x25519`]: the device's public key from its private key. The configuration protocol does
//!   not return it (wireguard-go's `device/uapi.go` writes `private_key` and the peers' keys
//!   only), the kernel does (`WGDEVICE_A_PUBLIC_KEY`); deriving it costs one RFC 7748 ladder,
//!   ~200 lines checked against the RFC's vectors, instead of a curve crate.
//!
//! What is proven where: the userspace path end to end on this machine (crates/wireguard/tests:
//! wireguard-go started by [`userspace::Daemon`], configured and read back through [`uapi`],
//! compared with `wg show <dev> dump`, and a ping across a tunnel both ends of which this crate
//! configured). The kernel path only in part: the generic netlink family lookup against the
//! running kernel (nlctrl resolves; "wireguard" missing gives
//! [`genl::GenlError::NoKernelWireGuard`]); the WireGuard messages are checked byte for byte
//! against the layout include/uapi/linux/wireguard.h documents, never against a kernel module
//! (this machine's kernel has none).

pub mod config;
pub mod genl;
pub mod key;
pub mod keyfile;
pub mod uapi;
pub mod userspace;
pub mod x25519;

pub use config::{DeviceConfig, DeviceState, PeerConfig, PeerState};
pub use key::{Key, KeyParseError, PrivateKey};
