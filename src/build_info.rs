//! What this build is: the line `lichen version` / `lichen --version` prints, and the commit
//! `/metrics` reports (`lichen_build_info`). Below the CLI and the agent, which both use it.

/// `lichen version`: one line with the version, the target triple, how it was linked, the enabled
/// Cargo features and the CPU features it was compiled for, the CNI versions it speaks and the
/// commit it was built from (`LICHEN_COMMIT` at build time, as cross/build.sh sets it), e.g.
/// `lichen 0.1.0 arm-unknown-linux-musleabihf static features=[] cpu=[v6,vfp2] cni=0.3.0,… commit=1c4a87c`.
///
/// The triple is composed from `cfg!` (Cargo gives a crate no `TARGET` outside build scripts).
/// Stable rustc does not expose the ARM architecture versions to `cfg!` (nightly does), so a build
/// may name its target in `LICHEN_TARGET` at compile time (cross/build.sh and Cross.toml do).
pub fn version_line() -> String {
    let triple = triple();
    format!(
        "lichen {} {triple} {} features=[{}] cpu=[{}] cni={} commit={}",
        env!("CARGO_PKG_VERSION"),
        if cfg!(target_feature = "crt-static") {
            "static"
        } else {
            "dynamic"
        },
        on(FEATURES),
        on(CPU),
        crate::cni::Version::ALL.map(|v| v.as_str()).join(","),
        commit()
    )
}

/// The target triple: `LICHEN_TARGET` at build time, else composed from `cfg!`.
fn triple() -> String {
    match option_env!("LICHEN_TARGET") {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => format!("{}-unknown-{}-{}", arch(), std::env::consts::OS, env_abi()),
    }
}

/// The architecture, `armv7` for an ARMv7 `arm`.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "arm" if cfg!(target_feature = "v7") => "armv7",
        a => a,
    }
}

/// The triple's environment and ABI (`musleabihf`, `gnu`, …).
fn env_abi() -> String {
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "gnu") {
        "gnu"
    } else {
        ""
    };
    let abi = if cfg!(target_abi = "eabihf") {
        "eabihf"
    } else if cfg!(target_abi = "eabi") {
        "eabi"
    } else {
        ""
    };
    format!("{env}{abi}")
}

/// Cargo features of the crate, as (name, enabled): add one line per feature in Cargo.toml.
const FEATURES: &[(&str, bool)] = &[];

/// The CPU features that matter for the boards (and the x86_64/aarch64 baselines).
const CPU: &[(&str, bool)] = &[
    ("v6", cfg!(target_feature = "v6")),
    ("v7", cfg!(target_feature = "v7")),
    ("thumb2", cfg!(target_feature = "thumb2")),
    ("vfp2", cfg!(target_feature = "vfp2")),
    ("vfp3", cfg!(target_feature = "vfp3")),
    ("neon", cfg!(target_feature = "neon")),
    ("sse2", cfg!(target_feature = "sse2")),
    ("avx2", cfg!(target_feature = "avx2")),
];

/// The enabled names of `list`, joined with commas.
fn on(list: &[(&str, bool)]) -> String {
    list.iter()
        .filter(|(_, enabled)| *enabled)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The build's commit (`LICHEN_COMMIT` at build time), or `unknown`.
pub fn commit() -> &'static str {
    match option_env!("LICHEN_COMMIT") {
        Some(c) if !c.is_empty() => c,
        _ => "unknown",
    }
}
