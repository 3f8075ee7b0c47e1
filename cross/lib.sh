# shellcheck shell=bash
# Shared by cross/build.sh, scripts/arm-test.sh and images/: what each target needs. Source it
# from the repository root (`. cross/lib.sh`). Bash only.
#
# Every target builds std from the nightly's rust-src (-Zbuild-std, optimize_for_size, no unwind
# tables in release builds, which abort on panic) and links with rust-lld against a small
# "sysroot" made here (cross/sysroot.sh): musl's crt objects (rcrt1.o included) and libc.a,
# libunwind.a, empty crtbegin/crtend. The 32-bit ARM targets' prebuilt std is not downloadable on
# these machines, and a prebuilt std costs ~0.75 MB (its unwind tables, its backtrace symbolizer,
# code optimised for speed). Release builds are static-pie on every target (the code of a root
# daemon that parses API-server and CNI input is not at fixed addresses): rustc's built-in musl
# targets other than x86_64 do not offer static-pie, so release builds use a target spec made
# from the built-in one with only `static-position-independent-executables` turned on
# (target_spec below); tests use the built-in triple.

ALL_TARGETS=(
  x86_64-unknown-linux-musl
  aarch64-unknown-linux-musl
  armv7-unknown-linux-musleabihf
  arm-unknown-linux-musleabihf
)

# Everything expensive (Debian packages, built musl, libunwind) lives here, inside the project's
# build directory, so CI can cache it with target/.
CROSS_CACHE="${CROSS_CACHE:-$PWD/target/cross-cache}"
# The nightly used for -Zbuild-std (override to pin a date, e.g. nightly-2026-05-19).
LICHEN_NIGHTLY="${LICHEN_NIGHTLY:-nightly}"

die() {
  echo "cross: $*" >&2
  exit 1
}

known_target() {
  local t
  for t in "${ALL_TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}

# target_spec TARGET: writes (once per nightly) and prints the path of
# $CROSS_CACHE/targets/TARGET.json, the nightly's built-in spec of TARGET with static-pie turned
# on. The file keeps the triple as its name, so cargo's output dir (target/TARGET) and the
# [target.TARGET] settings in .cargo/config.toml stay the same. Custom specs need the rustc flag
# -Zunstable-options (cargo_for adds it).
target_spec() {
  local t=$1 dir="$CROSS_CACHE/targets" nightly spec
  nightly=$(rustc +"$LICHEN_NIGHTLY" -V)
  spec="$dir/$t.json"
  if [ ! -f "$spec" ] || [ "$(cat "$dir/$t.stamp" 2>/dev/null)" != "$nightly" ]; then
    mkdir -p "$dir"
    rustc +"$LICHEN_NIGHTLY" -Zunstable-options --print target-spec-json --target "$t" |
      sed -e 's/"is-builtin": true/"is-builtin": false/' >"$spec.tmp"
    # (x86_64's built-in spec has it already)
    grep -q '"static-position-independent-executables"' "$spec.tmp" ||
      sed -i 's/^\( *\)"position-independent-executables": true,/&\n\1"static-position-independent-executables": true,/' "$spec.tmp"
    grep -q '"static-position-independent-executables": true' "$spec.tmp" ||
      die "could not turn static-pie on in $t's target spec (rustc's JSON changed?)"
    mv "$spec.tmp" "$spec"
    echo "$nightly" >"$dir/$t.stamp"
  fi
  echo "$spec"
}

# The qemu-user command (with a CPU model matching the boards) for a foreign target; empty on
# the host's own architecture.
qemu_runner() {
  case "$1" in
    aarch64-unknown-linux-musl) echo "qemu-aarch64 -cpu cortex-a53" ;;   # Pi 3/4 (A53/A72), 64-bit
    armv7-unknown-linux-musleabihf) echo "qemu-arm -cpu cortex-a7" ;;    # Pi 2 (A7), Pi 3 32-bit OS
    arm-unknown-linux-musleabihf) echo "qemu-arm -cpu arm1176" ;;        # Pi Zero / Pi 1 (ARM1176JZF-S)
    *) echo "" ;;
  esac
}

# The ELF e_machine `readelf -h` prints, and the OCI platform, of a target.
elf_machine() {
  case "$1" in
    x86_64-*) echo "Advanced Micro Devices X86-64" ;;
    aarch64-*) echo "AArch64" ;;
    arm*) echo "ARM" ;;
  esac
}
oci_platform() {
  case "$1" in
    x86_64-*) echo "amd64" ;;
    aarch64-*) echo "arm64" ;;
    armv7-*) echo "arm v7" ;;
    arm-*) echo "arm v6" ;;
  esac
}

# The C side of a target, in the cc crate's conventions so a crate with C code (e.g. ring) picks
# the same compiler up: CC_<target>, CFLAGS_<target>, AR_<target>. The defaults use Debian's
# clang (one compiler for every ARM target) with musl's headers from the sysroot; set CC_<target>
# (e.g. arm-linux-gnueabihf-gcc) and CFLAGS_<target> to plug in another cross compiler.
target_var() { echo "${2}_${1//-/_}"; }
sysroot_dir() { echo "$CROSS_CACHE/sysroot/$1"; }
clang_triple() {
  case "$1" in
    armv7-*) echo "armv7-linux-musleabihf" ;;
    arm-*) echo "arm-linux-musleabihf" ;;
    aarch64-*) echo "aarch64-linux-musl" ;;
    x86_64-*) echo "x86_64-linux-musl" ;;
  esac
}
arch_cflags() {
  case "$1" in
    # Rust's armv7 target: ARMv7-A, Thumb-2, VFPv3-D16, no NEON.
    armv7-*) echo "-march=armv7-a -mthumb -mfpu=vfpv3-d16 -mfloat-abi=hard" ;;
    # Rust's arm target: ARMv6 (ARM1176JZF-S), VFPv2, ARM state. No Thumb-2, no NEON.
    arm-*) echo "-march=armv6 -mfpu=vfp -mfloat-abi=hard -marm" ;;
    *) echo "" ;;
  esac
}
# c_flags TARGET CC: code generation flags for the target (clang also gets --target=).
c_flags() {
  local pre=""
  case "$(basename "$2")" in *clang*) pre="--target=$(clang_triple "$1") " ;; esac
  echo "$pre$(arch_cflags "$1") -Os -ffunction-sections -fdata-sections"
}
# The target's C compiler: $CC_<target>, else clang.
target_cc() {
  local v
  v=$(target_var "$1" CC)
  echo "${!v:-clang}"
}
# Exports CC_/CFLAGS_/AR_<target> (keeping any the caller set; the default flags compile against
# musl's headers in the sysroot, not the host's glibc ones).
export_c_toolchain() {
  local t=$1 cc cflags ar resource
  cc=$(target_cc "$t")
  resource=$("$cc" -print-resource-dir 2>/dev/null)/include
  case "$(basename "$cc")" in *clang*) ;; *) resource=$("$cc" -print-file-name=include) ;; esac
  cflags=$(target_var "$t" CFLAGS)
  ar=$(target_var "$t" AR)
  export "$(target_var "$t" CC)=$cc"
  export "$cflags=${!cflags:-$(c_flags "$t" "$cc") -nostdinc -isystem $(sysroot_dir "$t")/include -isystem $resource}"
  export "$ar=${!ar:-llvm-ar}"
}

# The words of `cargo` itself (before the subcommand) for a target: release builds (mode build)
# build std for size without unwind tables and accept the JSON target spec; tests (mode test)
# build std as it is (they unwind, and need the test crate). The --target words come from
# target_args, after the subcommand:
#   read -ra CARGO <<<"$(cargo_for T build)"; read -ra TARGET <<<"$(target_args T build)"
#   "${CARGO[@]}" build --release "${TARGET[@]}"
# (--config adds to .cargo/config.toml's rustflags for the target, it does not replace them.)
cargo_for() {
  local t=$1 mode=$2
  if [ "$mode" = build ]; then
    echo "cargo +$LICHEN_NIGHTLY -Zjson-target-spec -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size --config=target.$t.rustflags=[\"-C\",\"force-unwind-tables=no\",\"-Zunstable-options\"]"
  else
    echo "cargo +$LICHEN_NIGHTLY -Zbuild-std"
  fi
}
# The --target words for cargo_for's mode: the static-pie spec for release builds, the built-in
# triple for tests.
target_args() {
  if [ "$2" = build ]; then
    echo "--target $(target_spec "$1")"
  else
    echo "--target $1"
  fi
}

# Installs the Debian packages that are missing (as root; otherwise says which are needed).
install_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (apt-get install them, or run as root)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The nightly and its rust-src, for -Zbuild-std.
ensure_rust_src() {
  rustup toolchain list | grep -q "^$LICHEN_NIGHTLY" || rustup toolchain install --profile minimal "$LICHEN_NIGHTLY"
  [ -d "$(rustc +"$LICHEN_NIGHTLY" --print sysroot)/lib/rustlib/src/rust/library" ] ||
    rustup component add rust-src --toolchain "$LICHEN_NIGHTLY"
}
