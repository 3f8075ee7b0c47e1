#!/usr/bin/env bash
# Benchmarks against Debian's reference plugins, in one run, inside a throwaway network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
# Go and Debian's libcni build the libcni bench's runtime driver (benches/libcni/driver.go).
scripts/setup.sh golang-go golang-github-appc-cni-dev
cross/build.sh x86_64-unknown-linux-musl aarch64-unknown-linux-musl
cargo bench --quiet --no-run
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench cni
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench libcni
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench agent
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench policy
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench datapath
exec unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench kube
