#!/usr/bin/env bash
# Installs etcd for the tests of the group controller's etcd store (idempotent): Debian's
# `etcd-server` (3.4; no service is started by the tests, they run `etcd` themselves on loopback
# ports with temporary data directories) and `etcd-client` (etcdctl, to look at the keys). Both
# binaries are also what deploy/build-etcd-image.sh copies into the image of the HA deployment.
set -euo pipefail
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! $sudo apt-get install -y --no-install-recommends etcd-server etcd-client; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends etcd-server etcd-client
  fi
  # Debian starts the packaged service where systemd runs; the tests want the ports free.
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    $sudo systemctl disable --now etcd || true
  fi
fi
etcd --version | sed -n 1p   # sed reads it all: no broken pipe under pipefail
