#!/usr/bin/env bash
# Installs the Debian packages the real node and the image builds need, when any is missing:
#   runc                          the OCI runtime containerd starts containers with (crun refuses hybrid cgroups)
#   containernetworking-plugins   bridge, host-local, portmap and loopback CNI plugins for the node's pod network
#   iptables conntrack            kube-proxy's Service rules and the CNI plugins' masquerading
#   podman buildah                building our images from their Dockerfiles without a Docker engine
#   mmdebstrap                    a Debian base root file system when no base image can be pulled
#   busybox-static                the real node's test image (a static busybox in an otherwise empty image)
#   gcc libc6-dev                 the pause image's static binary
# The check is a dpkg query, so a machine that has everything pays nothing; a missing package costs one
# `apt-get update` and install (about 35 s for all of them).
set -euo pipefail

packages=(runc containernetworking-plugins iptables conntrack podman buildah mmdebstrap busybox-static gcc libc6-dev)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "hack/host-packages.sh: missing Debian packages: ${missing[*]}; install them as root:" >&2
  echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "==> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
