#!/usr/bin/env bash
# Benchmarks against Debian's reference plugins, in one run, inside a throwaway network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
scripts/setup.sh
cross/build.sh x86_64-unknown-linux-musl aarch64-unknown-linux-musl
cargo bench --quiet --no-run
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench cni
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench agent
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench policy
unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench datapath
exec unshare -n -- scripts/in-netns.sh cargo bench --quiet --bench kube
