#!/usr/bin/env bash
# The whole test suite: lints, unit and integration tests (host), static musl builds for x86_64
# and aarch64, and the aarch64 tests under qemu-user. Needs root (network namespaces). Every test
# runs inside a throwaway network namespace (unshare -n) and namespaces the tests make, so nothing
# in this machine's own network namespace can change.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (sudo scripts/test.sh)" >&2; exit 1; }
scripts/setup.sh

# Each step prints the disk left where target/ lives: a full run builds the host and three ARM
# targets, and a machine short of disk fails late. Incremental state only helps an edit loop, not
# one run of everything, so it is off here (it was a third of target/).
export CARGO_INCREMENTAL=0
step() { printf '\n=== %s  [disk free for target/: %s]\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"; }

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

step "static builds for every board (cross/build.sh: x86_64, aarch64, armv7, ARMv6; checks static, CPU, size)"
cross/build.sh

step "OCI image (linux/amd64, arm64, arm/v7, arm/v6) and its check"
images/build.sh
images/check.sh

step "ARM tests under qemu-user (aarch64 cortex-a53, armv7 cortex-a7, ARMv6 arm1176)"
# Unit tests of every crate and the plugin's end-to-end tests, with each ARM binary. The agent's
# end-to-end tests need NETLINK_NETFILTER and neighbour/FDB messages, which qemu-user does not
# translate: they run on the host build above (the unit tests that need them say SKIPPED there).
scripts/arm-test.sh
