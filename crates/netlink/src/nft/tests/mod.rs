//! Kernel tests. Each test moves its own thread into a fresh network namespace first
//! ([`testkit::nft::fresh_netns`]), so nothing touches the host's nftables. The tests of what
//! Lichen builds on this layer are with that code: the node rules in `agent::node_rules`, the
//! policy table in `policy::table`.

mod sets;
