#!/usr/bin/env bash
# The whole test suite: lints, unit and integration tests (host), static musl builds for x86_64
# and aarch64, and the aarch64 tests under qemu-user. Needs root (network namespaces). Every test
# runs inside a throwaway network namespace (unshare -n) and namespaces the tests make, so nothing
# in this machine's own network namespace can change.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (sudo scripts/test.sh)" >&2; exit 1; }
scripts/setup.sh

step() { printf '\n=== %s\n' "$*"; }

# Guard: this machine's own network namespace must look the same after the run.
root_links() { ip -o link show | awk -F': ' '{print $2}' | sort; }
root_before=$(root_links)
check_root() {
  if [ "$(root_links)" != "$root_before" ]; then
    echo "FAIL: the root network namespace's links changed during the tests:" >&2
    diff <(echo "$root_before") <(root_links) >&2 || true
    exit 1
  fi
}
trap check_root EXIT

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "build (host)"
cargo build --workspace --all-targets --quiet

step "tests (host, inside unshare -n)"
unshare -n -- scripts/in-netns.sh cargo test --workspace --quiet -- --test-threads="${TEST_THREADS:-4}"

step "static musl builds"
for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  cargo build --release --quiet --target "$t"
  bin="target/$t/release/lichen"
  desc=$(file -b "$bin")
  echo "$t: $(stat -c %s "$bin") bytes; $desc"
  case "$desc" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) echo "FAIL: $bin is not static" >&2; exit 1 ;;
  esac
done

step "aarch64 tests under qemu-aarch64 (cortex-a53)"
# Unit tests of every crate and the plugin's end-to-end tests, with the aarch64 binary. The
# agent's end-to-end tests need NETLINK_NETFILTER and neighbour/FDB messages, which qemu-user
# does not translate: they run on the host build above (and the unit tests that need them say
# SKIPPED here).
export LICHEN_RUNNER="qemu-aarch64 -cpu cortex-a53"
unshare -n -- scripts/in-netns.sh cargo test --quiet --target aarch64-unknown-linux-musl -p lichen-ipam -p lichen-backends
unshare -n -- scripts/in-netns.sh cargo test --quiet --target aarch64-unknown-linux-musl -p lichen --lib --bins --test plugin --test chain \
  -- --test-threads="${TEST_THREADS:-4}"
