#!/usr/bin/env bash
# Installs what building, the demo and the tests need on a fresh Debian machine (as root), and
# any further Debian packages named as arguments (scripts/bench.sh: Go and libcni).
set -euo pipefail
need=("$@" iproute2 iputils-ping nftables iptables ethtool containernetworking-plugins qemu-user iperf3 file procps python3-yaml containerd runc python3-grpcio gcc libc6-dev wireguard-go wireguard-tools tcpdump)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
# The static builds need no prebuilt musl std: cross/build.sh builds std from the nightly's
# rust-src on every target (and installs that nightly itself).
