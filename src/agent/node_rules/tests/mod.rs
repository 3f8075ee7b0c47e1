//! Kernel tests of the node rules. Each test moves its own thread into a fresh network
//! namespace first (or builds named ones that a guard deletes), so nothing touches the host's
//! nftables.

mod effect;
mod foreign;
mod rules;
