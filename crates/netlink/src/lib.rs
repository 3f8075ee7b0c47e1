//! The kernel layer of Lichen, a crate of its own so that the compiler keeps it below
//! everything else (it imports nothing of Lichen; the binary re-exports its modules as
//! `lichen::{netns, nft, nl}`):
//! - [`netns`]: network namespaces, entered per thread only to open sockets there;
//! - [`nl`]: rtnetlink, synchronously (links, addresses, routes, neighbours, VXLAN, ethtool,
//!   the x_tables forward check), over [`netns`];
//! - [`nft`]: a generic nf_tables encoder and reader over NETLINK_NETFILTER.

pub mod netns;
pub mod nft;
pub mod nl;
