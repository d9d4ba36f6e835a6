#!/usr/bin/env bash
# The quickstart: builds the mesh, starts discovery, the file instance plugin, the vanilla flavor
# and the group controller on unix sockets in a private directory, commits a group of 5
# instances (deploy/examples/cattle.json), waits until it has converged, and keeps it
# self-healing until Ctrl-C. Everything lives under $IK_HOME (default /tmp/infrakit-quickstart).
#
# IK_BIN_DIR=dir   use binaries already built there instead of building them
# IK_QUICKSTART_EXIT=1   stop after the group has converged (for scripted runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export IK_HOME="${IK_HOME:-/tmp/infrakit-quickstart}"
export INFRAKIT_PLUGINS_DIR="$IK_HOME/plugins"
if [ -z "${IK_BIN_DIR:-}" ]; then
  echo "==> building (the first time takes a few minutes)"
  cargo build --release --quiet -p ikctl -p infrakit-discovery -p infrakit-instance-file \
    -p infrakit-flavor-vanilla -p infrakit-group
  IK_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/release"
fi
export PATH="$IK_BIN_DIR:$PATH"
mkdir -p "$IK_HOME"
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start() {
  "$@" >"$IK_HOME/$1.log" 2>&1 &
  pids+=($!)
}
echo "==> starting the plugins in $INFRAKIT_PLUGINS_DIR"
start infrakit-discovery
start infrakit-instance-file --dir "$IK_HOME/instances"
start infrakit-flavor-vanilla
start infrakit-group --state-dir "$IK_HOME/group-state"
for n in discovery instance-file flavor-vanilla group; do
  for _ in $(seq 200); do [ -S "$INFRAKIT_PLUGINS_DIR/$n.sock" ] && break; sleep 0.05; done
  [ -S "$INFRAKIT_PLUGINS_DIR/$n.sock" ] || { echo "$n did not start; see $IK_HOME/infrakit-$n.log" >&2; exit 1; }
done
ikctl plugin ls
echo
echo "==> committing deploy/examples/cattle.json (a group of 5 instances)"
ikctl group commit deploy/examples/cattle.json --wait --timeout 60s
echo
ikctl group describe cattle
cat <<EOT

The group 'cattle' is converged and self-healing. In another terminal:

  export INFRAKIT_PLUGINS_DIR=$INFRAKIT_PLUGINS_DIR PATH=$IK_BIN_DIR:\$PATH
  ikctl group events cattle --follow              # watch every action, with its reason
  rm $IK_HOME/instances/\$(ls $IK_HOME/instances | head -1)   # kill an instance: it is replaced at once
  ikctl group commit deploy/examples/cattle2.json --dry-run   # plan a roll to a new config and size 10
  ikctl group commit deploy/examples/cattle2.json --wait      # ... and do it
  ikctl group destroy cattle --wait                # remove every instance

Press Ctrl-C to stop the plugins (the group and its instances stay on disk in $IK_HOME).
EOT
if [ -n "${IK_QUICKSTART_EXIT:-}" ]; then
  exit 0
fi
wait
