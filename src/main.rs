//! The `lichen` binary: CNI plugin when CNI_COMMAND is set, IPAM plugin when invoked as
//! `lichen-ipam`, loopback plugin when invoked as `loopback`, otherwise the operator's command
//! line.

fn main() {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let invoked_as = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("lichen")
        .to_owned();
    let code = if invoked_as == "lichen-ipam" {
        lichen::plugin::run_ipam_plugin()
    } else if invoked_as == lichen::plugin::LOOPBACK_NAME {
        lichen::plugin::run_loopback()
    } else if std::env::var_os("CNI_COMMAND").is_some() {
        lichen::plugin::run_cni()
    } else {
        lichen::cli::run()
    };
    std::process::exit(code);
}
