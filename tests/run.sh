#!/usr/bin/env bash
# Runs every test: unit tests, in-process service tests, and integration tests that drive the
# real binaries over real sockets (with grpcurl and a Python client generated from proto/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-tools.sh
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast "$@"
