#!/usr/bin/env bash
# Builds infrakit-demo/busybox:1 and :2, tiny FROM-scratch images holding Debian's static busybox,
# used as the workload of container groups (nothing can be pulled from a registry here).
set -euo pipefail
bb=$(command -v busybox || echo /bin/busybox)
[ -x "$bb" ] || { echo "busybox is missing: apt-get install busybox-static" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bb" "$ctx/busybox"
for v in 1 2; do
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nLABEL org.infrakit.demo.version="%s"\nENTRYPOINT ["/bin/busybox"]\nCMD ["sleep", "86400"]\n' "$v" > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build --quiet -t "infrakit-demo/busybox:$v" "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
done
echo "built infrakit-demo/busybox:1 and :2"
