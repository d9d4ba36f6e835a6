#!/usr/bin/env bash
# Installs ZooKeeper for the tests of infrakit-flavor-zookeeper (idempotent):
# Debian's `zookeeper` package (3.8; the jars under /usr/share/java, no service is started; it
# needs a JRE, OpenJDK 17 here) and the Python client `kazoo` into .venv-tools/ (the test that
# writes through a rolling update uses it).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f /usr/share/java/zookeeper.jar ] || [ ! -f /usr/share/java/slf4j-simple.jar ]; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # `zookeeper` pulls in slf4j (libslf4j-java gives slf4j-simple.jar). Not `zookeeperd`: that
  # only adds a system service, and the tests start QuorumPeerMain themselves.
  if ! $sudo apt-get install -y --no-install-recommends zookeeper libslf4j-java; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends zookeeper libslf4j-java
  fi
fi
command -v java >/dev/null || { echo "java is missing: install default-jre-headless" >&2; exit 1; }
venv=.venv-tools
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import kazoo' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'kazoo>=2.9,<3'
fi
"$venv/bin/python" -c 'import kazoo' 
test -f /usr/share/java/zookeeper.jar
