#!/usr/bin/env bash
# Run by `cross` (Cross.toml `pre-build`) while it builds its image for a target, as
# `./cross/pre-build.sh $CROSS_TARGET`. Adds what `cross test` needs beyond the compiler: iproute2
# (`ip netns` for the end-to-end tests) and file/binutils to check the binaries as cross/check.sh
# does. The C cross compiler for crates with C code (CC_<target>) is already in cross's images.
set -eu
apt-get update
apt-get install --assume-yes --no-install-recommends iproute2 iputils-ping file binutils
