#!/bin/sh
# Runs a command in the fresh network namespace `unshare -n` made, with its loopback up (the
# Kubernetes test API server and the agent's status endpoint listen on 127.0.0.1 there).
set -e
ip link set lo up
exec "$@"
