#!/usr/bin/env bash
# scripts/arm-test.sh [TARGET...]: the tests of the ARM builds under qemu-user, with the CPU model
# of the boards (default: all three ARM targets):
#   aarch64-unknown-linux-musl       qemu-aarch64 -cpu cortex-a53
#   armv7-unknown-linux-musleabihf   qemu-arm -cpu cortex-a7
#   arm-unknown-linux-musleabihf     qemu-arm -cpu arm1176   (SIGILL on any ARMv7 instruction)
# For each: the unit tests of every crate and the plugin's end-to-end tests (ADD/CHECK/DEL in
# network namespaces, with the ARM binary of the plugin). The agent's end-to-end tests need
# NETLINK_NETFILTER and neighbour/FDB messages, which qemu-user does not translate: they run on the
# host only (the unit tests that need them say SKIPPED here).
#
# Root (network namespaces). Tests run inside a throwaway network namespace (unshare -n) and
# namespaces they make. Builds happen first, outside it (-Zbuild-std may fetch std's crates).
# LICHEN_RUNNER tells the tests how to run a binary of the foreign architecture they spawn.
set -euo pipefail
cd "$(dirname "$0")/.."
. cross/lib.sh
[ "$(id -u)" = 0 ] || die "arm-test.sh: run as root (network namespaces)"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf)
for t in "${targets[@]}"; do
  known_target "$t" && [ -n "$(qemu_runner "$t")" ] || die "not a foreign target here: $t"
done
install_packages qemu-user iproute2 iputils-ping file binutils clang llvm dpkg-dev

threads="${TEST_THREADS:-4}"
# lichen's own tests (lib, plugin, chain) fork `ip` and the plugin all the time; under qemu-user
# a fork while other test threads run guest code has hung for good (see run_tests), three times
# in one run on 2026-12-04 (aarch64 and ARMv6, the retry included). One test at a time: the
# harness's other thread only waits for it.
plugin_threads="${PLUGIN_TEST_THREADS:-1}"

# qemu-user has been seen (armv7, twice) to hang a test for good: once a netlink reply never
# came; once (2026-12-03, dataplane::tests::concurrent_attaches_share_one_bridge) the test waited
# on a child that qemu had forked to run a command, and the child sat in a futex before its exec (a
# fork from a multi-threaded emulated process). Bound each run (the longest seen takes under
# 2 min); a run that timed out (and only that) is retried once, saying so.
run_tests() {
  local rc=0
  timeout 600 unshare -n -- scripts/in-netns.sh "$@" || rc=$?
  if [ "$rc" = 124 ]; then
    echo "arm-test.sh: timed out after 10 min under qemu-user; retrying once: $*" >&2
    rc=0
    timeout 600 unshare -n -- scripts/in-netns.sh "$@" || rc=$?
  fi
  return "$rc"
}
failed=()
for t in "${targets[@]}"; do
  ensure_rust_src
  cross/sysroot.sh "$t"
  export_c_toolchain "$t"
  read -ra cargo <<<"$(cargo_for "$t" test)"
  export LICHEN_TARGET="$t" LICHEN_RUNNER
  LICHEN_RUNNER=$(qemu_runner "$t")
  printf '\n=== tests for %s under %s\n' "$t" "$LICHEN_RUNNER"
  crates=(-p lichen-ipam -p lichen-backends -p lichen-netlink
    -p lichen-parse -p lichen-kube -p lichen-policy -p lichen-wireguard)
  plugin=(-p lichen --lib --bins --test plugin --test chain)
  "${cargo[@]}" test --quiet --no-run --target "$t" "${crates[@]}"
  "${cargo[@]}" test --quiet --no-run --target "$t" "${plugin[@]}"
  run_tests "${cargo[@]}" test --quiet --no-fail-fast --target "$t" "${crates[@]}" -- --test-threads="$threads" ||
    failed+=("$t: the crates under lichen")
  run_tests "${cargo[@]}" test --quiet --no-fail-fast --target "$t" "${plugin[@]}" -- --test-threads="$plugin_threads" ||
    failed+=("$t: lichen (lib, bins, plugin, chain)")
  # The test build of one target (std included) is 1-2 GB; the next target does not use it, and a
  # CI machine ran out of disk with all three kept. LICHEN_KEEP_TEST_BUILDS=1 keeps them.
  [ -n "${LICHEN_KEEP_TEST_BUILDS:-}" ] || rm -rf "target/$t/debug"
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
