#!/usr/bin/env bash
# cross/build.sh [TARGET...]: the static release binary for each target (default: all four) in
# target/<triple>/release/lichen, built here without docker, then checked (cross/check.sh: static,
# right CPU, runs under qemu with the board's CPU model, within 3 MiB).
#
#   x86_64-unknown-linux-musl        PCs, servers, Intel/AMD edge boxes
#   aarch64-unknown-linux-musl       Raspberry Pi 3/4/5 (and Zero 2) on a 64-bit OS
#   armv7-unknown-linux-musleabihf   Raspberry Pi 2, and Pi 3/4 on a 32-bit OS
#   arm-unknown-linux-musleabihf     Raspberry Pi Zero / Zero W / Pi 1 (ARMv6, ARM1176JZF-S)
#
# Every target builds std from the nightly's rust-src (-Zbuild-std) against a sysroot made by
# cross/sysroot.sh, as a static-pie (see cross/lib.sh); everything expensive is cached under
# target/cross-cache, so a warm run only rebuilds what changed. Needs root only to install
# missing Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do known_target "$t" || die "unknown target $t (known: ${ALL_TARGETS[*]})"; done

install_packages file binutils qemu-user clang llvm dpkg-dev

commit="${LICHEN_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
for t in "${targets[@]}"; do
  ensure_rust_src
  cross/sysroot.sh "$t"
  # CC_/CFLAGS_/AR_<target> for crates with C code (ring, for the Kubernetes client's TLS).
  export_c_toolchain "$t"
  read -ra cargo <<<"$(cargo_for "$t" build)"
  read -ra target <<<"$(target_args "$t" build)"
  echo "=== build $t" >&2
  # LICHEN_TARGET: the triple `lichen version` prints (stable rustc cannot tell armv7 from ARMv6
  # through cfg!). LICHEN_COMMIT: the commit in /metrics' lichen_build_info.
  LICHEN_COMMIT="$commit" LICHEN_TARGET="$t" "${cargo[@]}" build --release --quiet "${target[@]}" -p lichen --bin lichen
done

echo "=== check" >&2
for t in "${targets[@]}"; do
  cross/check.sh "$t"
done
