#!/usr/bin/env bash
# Builds the docker-in-docker image infrakit/dind:local offline (idempotent), for the swarm flavor's
# tests: a Debian bookworm rootfs made by debootstrap (apt only, nothing pulled from a registry)
# with Debian's docker.io engine, imported with `docker import`.
#
#   bash tests/setup/dind-image.sh            # builds only what is missing
#   INFRAKIT_DIND_IMAGE=name:tag bash ...     # another image name
#
# The rootfs is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/infrakit/dind-rootfs (about 350 MB),
# so a second build on the same machine needs no downloads. Runs as root (debootstrap needs it).
#
# Running it: the engine inside needs a privileged container and a volume at /var/lib/docker:
#   docker run -d --privileged -v /var/lib/docker infrakit/dind:local
# or, where --privileged is refused (an engine without CAP_SYS_RESOURCE in its bounding set fails
# with "unable to apply caps: operation not permitted"), with every other capability and no seccomp
# filter (the default profile blocks keyctl, which runc inside needs):
#   docker run -d --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
#     -v /var/lib/docker infrakit/dind:local
# The entrypoint /usr/local/bin/dind prepares the container (read-only /sys and cgroup v1 mounts made
# writable, cgroup v2 nesting) and execs its arguments (default: dockerd) under tini.
set -euo pipefail
image="${INFRAKIT_DIND_IMAGE:-infrakit/dind:local}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/infrakit"
rootfs="$cache/dind-rootfs"
# Bump when the helper below or the package list changes: an image with another revision is rebuilt.
revision=2
packages=docker.io,iptables,ca-certificates,procps,iproute2,tini

if ! docker version >/dev/null 2>&1; then
  echo "dind-image.sh: no Docker engine answers (docker version failed); nothing to build" >&2
  exit 1
fi
old="$(docker image inspect -f '{{.Id}} {{index .Config.Labels "infrakit.dind.revision"}}' "$image" 2>/dev/null || true)"
if [ "${old#* }" = "$revision" ]; then
  echo "$image is already built (revision $revision)"
  exit 0
fi

if [ ! -f "$rootfs/.infrakit-complete" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "dind-image.sh: building the rootfs needs root (debootstrap)" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap
  fi
  mirror="${INFRAKIT_DIND_MIRROR:-http://deb.debian.org/debian}"
  rm -rf "$rootfs.partial"
  mkdir -p "$cache"
  echo "==> debootstrap bookworm into $rootfs (about 100 MB of downloads)"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs.partial" "$mirror"
  rm -rf "$rootfs.partial"/var/cache/apt/archives/*.deb "$rootfs.partial"/var/lib/apt/lists/* \
    "$rootfs.partial"/usr/share/doc/* "$rootfs.partial"/usr/share/man/* "$rootfs.partial"/usr/share/locale/*
  touch "$rootfs.partial/.infrakit-complete"
  rm -rf "$rootfs"
  mv "$rootfs.partial" "$rootfs"
fi

# The container entry helper, as the upstream docker "dind" hack script does it.
cat >"$rootfs/usr/local/bin/dind" <<'EOF'
#!/bin/sh
# Prepares the container to run dockerd, then execs "$@" (default: dockerd) under tini (as PID 1).
set -e
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security || echo "dind: could not mount securityfs" >&2
fi
if ! mountpoint -q /tmp; then mount -t tmpfs none /tmp; fi
# Without --privileged (capabilities added instead), /sys, /proc/sys and the cgroup v1 hierarchies
# are mounted read-only; the engine inside needs them writable (this container's own cgroups only).
awk '($5 ~ "^/sys" || $5 == "/proc/sys") && $6 ~ "^ro" {print $5}' /proc/self/mountinfo | while read -r m; do
  mount -o remount,rw,bind "$m" 2>/dev/null || mount -o remount,rw "$m" 2>/dev/null ||
    echo "dind: $m stays read-only" >&2
done
# cgroup v2: move every process out of the root cgroup and enable all controllers for children.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control || true
fi
mount --make-rshared / 2>/dev/null || true
[ $# -gt 0 ] || set -- dockerd
if [ "$$" = 1 ]; then exec /usr/bin/tini -- "$@"; fi
exec "$@"
EOF
chmod 0755 "$rootfs/usr/local/bin/dind"

echo "==> docker import $image"
docker import \
  -c 'ENTRYPOINT ["/usr/local/bin/dind"]' \
  -c 'CMD ["dockerd"]' \
  -c 'VOLUME /var/lib/docker' \
  -c "LABEL infrakit.dind.revision=$revision" \
  - "$image" < <(tar --numeric-owner -C "$rootfs" --exclude=./.infrakit-complete -cf - .) >/dev/null
# The image of an older revision is replaced: remove it unless something still uses it.
if [ -n "$old" ]; then docker rmi "${old%% *}" >/dev/null 2>&1 || true; fi
docker image inspect -f '{{.Size}}' "$image" | awk -v i="$image" '{printf "%s is %.0f MB\n", i, $1/1000000}'
