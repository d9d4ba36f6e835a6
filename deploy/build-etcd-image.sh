#!/usr/bin/env bash
# Builds infrakit/etcd:latest, the etcd members of deploy/docker-compose.ha.yml, with no registry:
# Debian's etcd and etcdctl (installed from apt when missing) and the shared libraries they load
# (ldd: libc and the dynamic loader), copied into a FROM-scratch image that runs as uid 65532.
# etcdctl is there for the health check: a scratch image has no shell to run anything else.
# Running it again rebuilds from the docker build cache and leaves the same image.
set -euo pipefail
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends etcd-server etcd-client \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends etcd-server etcd-client; }
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/usr/bin" "$ctx/root/etc" "$ctx/data/var/lib/etcd"
chmod 700 "$ctx/data/var/lib/etcd"
for b in etcd etcdctl; do
  path=$(command -v "$b")
  cp "$path" "$ctx/root/usr/bin/$b"
  # Every absolute path ldd names (libc.so.6 => /lib/..., /lib64/ld-linux...), at that path.
  for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
  done
done
# Names resolve through /etc/hosts and Docker's DNS, by Go's own resolver.
echo 'hosts: files dns' > "$ctx/root/etc/nsswitch.conf"
cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY root/ /
COPY --chown=65532:65532 data/ /
USER 65532:65532
ENTRYPOINT ["/usr/bin/etcd", "--data-dir", "/var/lib/etcd"]
EOF
echo "==> docker build infrakit/etcd:latest"
DOCKER_BUILDKIT=0 docker build --quiet -t infrakit/etcd:latest "$ctx" >/dev/null 2>"$ctx/build.log" || { cat "$ctx/build.log" >&2; exit 1; }
docker run --rm infrakit/etcd:latest --version | sed -n 1p   # sed reads it all: no broken pipe under pipefail
docker image inspect -f '{{.Size}}' infrakit/etcd:latest | awk '{printf "infrakit/etcd:latest is %.1f MB\n", $1/1000000}'
