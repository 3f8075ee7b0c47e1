//! The CNI verbs, one file each, and the standalone IPAM plugin.

pub fn run_cni() -> i32 {
    todo!("plugin::run_cni")
}

pub fn run_ipam_plugin() -> i32 {
    todo!("plugin::run_ipam_plugin")
}
