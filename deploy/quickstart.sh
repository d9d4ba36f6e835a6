#!/usr/bin/env bash
# The quickstart: builds the mesh, starts discovery, the file instance plugin and the vanilla
# flavor on unix sockets in a private directory, shows them with ikctl, provisions instances,
# and keeps running until Ctrl-C. Everything stays under $IK_HOME (default /tmp/infrakit-quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
IK_HOME="${IK_HOME:-/tmp/infrakit-quickstart}"
export INFRAKIT_PLUGINS_DIR="$IK_HOME/plugins"
mkdir -p "$IK_HOME"
echo "==> building (first time: a few minutes)"
cargo build --release --workspace --bins --quiet
BIN="${CARGO_TARGET_DIR:-target}/release"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
start() {
  "$BIN/$1" "${@:2}" >"$IK_HOME/$1.log" 2>&1 &
  pids+=($!)
}
start infrakit-discovery
start infrakit-instance-file --dir "$IK_HOME/instances"
start infrakit-flavor-vanilla
for n in discovery instance-file flavor-vanilla; do
  for _ in $(seq 100); do [ -S "$INFRAKIT_PLUGINS_DIR/$n.sock" ] && break; sleep 0.1; done
done
ik() { "$BIN/ikctl" "$@"; }
echo "==> plugins (ikctl plugin ls)"
for _ in $(seq 50); do ik plugin ls -q | grep -q flavor-vanilla && break; sleep 0.1; done
ik plugin ls
echo "==> preparing an instance spec with the vanilla flavor and provisioning 3 instances"
cat >"$IK_HOME/flavor.json" <<'JSON'
{"Init": ["echo hello from $(hostname)"], "Tags": {"tier": "web"}}
JSON
cat >"$IK_HOME/spec.json" <<'JSON'
{"Properties": {"Note": "quickstart"}, "Tags": {"app": "demo"}}
JSON
ik flavor --plugin flavor-vanilla prepare "$IK_HOME/flavor.json" --spec "$IK_HOME/spec.json" --size 3 >"$IK_HOME/prepared.json"
for _ in 1 2 3; do ik instance --plugin instance-file provision "$IK_HOME/prepared.json"; done
ik instance --plugin instance-file describe --tags app=demo
cat <<EOT

The mesh is running (logs in $IK_HOME). In another terminal:
  export INFRAKIT_PLUGINS_DIR=$INFRAKIT_PLUGINS_DIR
  $BIN/ikctl plugin ls
  $BIN/ikctl instance --plugin instance-file describe
  ls $IK_HOME/instances
Press Ctrl-C to stop.
EOT
wait
