#!/usr/bin/env bash
# Builds the image infrakit/mesh:latest from this workspace: static (crt-static glibc) release
# binaries of every service, copied into a FROM-scratch image. Needs only the local Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
services=(infrakit-discovery infrakit-group infrakit-instance-file infrakit-flavor-vanilla)
# ikctl is built static too and staged in deploy/bin for talking to the mesh from the host.
[ -f services/instance-docker/src/main.rs ] && [ -z "${IK_NO_DOCKER_PLUGIN:-}" ] && services+=(infrakit-instance-docker)
pkgs=()
for s in "${services[@]}" ikctl; do pkgs+=(-p "$s"); done
echo "==> building static binaries (${services[*]})"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --target "$target" "${pkgs[@]}"
out="${CARGO_TARGET_DIR:-$PWD/target}/$target/release"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/dirs/run/infrakit/plugins" "$ctx/dirs/var/lib/infrakit/group" \
  "$ctx/dirs/var/lib/infrakit/instances" "$ctx/dirs/var/lib/infrakit/instance-docker" "$ctx/dirs/tmp"
for s in "${services[@]}"; do cp "$out/$s" "$ctx/bin/"; done
cp deploy/Dockerfile "$ctx/"
mkdir -p deploy/bin
cp "$out/ikctl" deploy/bin/ikctl
echo "==> docker build infrakit/mesh:latest"
DOCKER_BUILDKIT=0 docker build --quiet -t infrakit/mesh:latest "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
docker image inspect -f '{{.Size}}' infrakit/mesh:latest | awk '{printf "infrakit/mesh:latest is %.1f MB\n", $1/1000000}'
