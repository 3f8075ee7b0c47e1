//! The kernel layer of Lichen, a crate of its own so that the compiler keeps it below
//! everything else (it imports nothing of Lichen; the binary re-exports its modules as
//! `lichen::{netns, nft, nl}`):
//! - [`netns`]: network namespaces, entered per thread only to open sockets there;
//! - [`nl`]: rtnetlink, synchronously (links, addresses, routes, neighbours, VXLAN, ethtool,
//!   the x_tables forward check), over [`netns`];
//! - [`nft`]: a generic nf_tables encoder and reader over NETLINK_NETFILTER;
//! - [`raw`]: the socket calls and wire format every netlink protocol shares, for the ones
//!   spoken byte by byte ([`nft`]; WireGuard's generic netlink in lichen-wireguard).

pub mod netns;
pub mod nft;
pub mod nl;
pub mod raw;
