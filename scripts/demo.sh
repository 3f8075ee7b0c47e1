#!/usr/bin/env bash
# Lichen's main job on its embedded default: a demo cluster of network namespaces on this machine.
# Everything happens inside a throwaway network namespace and namespaces the demo makes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (sudo scripts/demo.sh)" >&2; exit 1; }
scripts/setup.sh
cargo build --release --quiet
exec unshare -n -- scripts/in-netns.sh target/release/lichen demo "$@"
