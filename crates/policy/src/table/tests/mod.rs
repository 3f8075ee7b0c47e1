//! Kernel tests of the policy table. Each test moves its own thread into a fresh network
//! namespace first, so nothing touches the host's nftables.

mod apply;
mod churn;
mod edit;
