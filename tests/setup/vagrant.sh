#!/usr/bin/env bash
# Installs what the Vagrant instance plugin's tests need (idempotent, Debian 12, run as root):
# Debian's vagrant (2.3.4, with its built-in docker provider) and busybox-static (a static busybox
# the tests copy into a FROM-scratch image: no image is ever pulled). Already-present tools are
# left alone; nothing is downloaded when both are there.
set -euo pipefail
need=()
command -v vagrant >/dev/null || need+=(vagrant)
command -v busybox >/dev/null || [ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "tests/setup/vagrant.sh: run as root (or install sudo) to install: ${need[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Skip the index download when apt already knows the packages.
if ! apt-cache show "${need[@]}" >/dev/null 2>&1; then
  $sudo apt-get update
fi
$sudo apt-get install -y --no-install-recommends "${need[@]}"
vagrant --version
