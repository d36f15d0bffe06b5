#!/usr/bin/env bash
# Builds the local cluster's binaries from the pinned Go modules in hack/k8s-tools into
# ~/.cache/llmkube/k8s/<version>/bin, once per pin. Two groups, each with its own stamp and lock:
#   hack/build-k8s.sh [control-plane]   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
#   hack/build-k8s.sh node              kubelet, kube-proxy, containerd, containerd-shim-runc-v2, ctr, coredns
#   hack/build-k8s.sh all               both
#
# A group's stamp records its pin (versions plus a hash of its modules' go.mod/go.sum); when it matches, the
# script exits at once, so callers (hack/test.sh, the cluster launcher) may run it every time. A changed pin
# rebuilds that group only (Go's build cache makes unchanged packages a relink). An interrupted build leaves no
# stamp and resumes from Go's build cache. Separate groups keep a node pin change from touching the control
# plane's binaries, which other checkouts of the repository share through the cache.
# Nothing is written into the repository: go runs with -mod=readonly and outputs only to the cache.
set -euo pipefail
script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/k8s-tools"

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
CONTAINERD_VERSION=v2.3.7
COREDNS_VERSION=v1.15.0

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -p=${LLMKUBE_BUILD_JOBS:-2}"

cache_root=${LLMKUBE_K8S_CACHE:-$HOME/.cache/llmkube/k8s}
out=$cache_root/$K8S_VERSION
bin=$out/bin
mkdir -p "$bin"

group=${1:-control-plane}
case $group in
  control-plane | node) ;;
  all)
    "$script" control-plane
    exec "$script" node
    ;;
  *)
    echo "usage: $0 [control-plane|node|all]" >&2
    exit 2
    ;;
esac

# Every module of the group must pin the Kubernetes release named above, or the binaries would disagree.
for module in kubernetes kubelet; do
  grep -q "^require k8s.io/kubernetes $K8S_VERSION\$" "$module/go.mod" || {
    echo "hack/k8s-tools/$module/go.mod does not require k8s.io/kubernetes $K8S_VERSION" >&2
    exit 1
  }
done

# The control plane's pin string is unchanged from when it was the only group, so existing caches stay valid.
if [ "$group" = control-plane ]; then
  modules=(etcd kubernetes kwok)
  pin="kubernetes=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"
  stamp=$out/stamp
  lock=$out/.lock
  binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
  extras=("$out/kwok-stages.yaml")
else
  modules=(kubelet containerd coredns)
  pin="kubernetes=$K8S_VERSION containerd=$CONTAINERD_VERSION coredns=$COREDNS_VERSION"
  stamp=$out/stamp-node
  lock=$out/.lock-node
  binaries=(kubelet kube-proxy containerd containerd-shim-runc-v2 ctr coredns)
  extras=()
fi
module_files=()
for module in "${modules[@]}"; do module_files+=("$module/go.mod"); done
for module in "${modules[@]}"; do module_files+=("$module/go.sum"); done
[ "$group" = node ] && module_files+=(coredns/main.go)
pin="$pin modules=$(cat "${module_files[@]}" | sha256sum | cut -c1-16)"

exec 9>"$lock"
flock 9 # a second caller waits for the first build, then finds the stamp

complete() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$pin" ] || return 1
  for path in "${extras[@]}"; do [ -f "$path" ] || return 1; done
  for name in "${binaries[@]}"; do [ -x "$bin/$name" ] || return 1; done
}
if complete; then
  exit 0
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$pin" ]; then
  for name in "${binaries[@]}"; do rm -f "$bin/$name"; done # another pin's outputs (or none): start over
  for path in "${extras[@]}"; do rm -f "$path"; done
fi
rm -f "$stamp"

started=$SECONDS
echo "==> building the local cluster's $group into $bin ($pin)"

# build <module dir> <package> <binary name> [go build flags...] [-- ldflags...]
build() {
  local module=$1 package=$2 name=$3
  shift 3
  local flags=() ldflags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    flags+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  ldflags=("$@")
  [ -x "$bin/$name" ] && return 0
  local t0=$SECONDS
  echo "==> [$((SECONDS - started))s] go build $name ($package)"
  (cd "$module" && go build -trimpath "${flags[@]}" -ldflags="-s -w ${ldflags[*]}" -o "$bin/$name.partial" "$package")
  mv -f "$bin/$name.partial" "$bin/$name"
  echo "    $name built in $((SECONDS - t0))s"
}

# Without these the binaries report v0.0.0-master, which clients flag as version skew.
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
kube_version=(
  "-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  "-X k8s.io/component-base/version.gitMajor=1"
  "-X k8s.io/component-base/version.gitMinor=$minor"
  "-X k8s.io/component-base/version.gitTreeState=clean"
  "-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
)

if [ "$group" = control-plane ]; then
  build etcd go.etcd.io/etcd/server/v3 etcd
  build kubernetes k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver -- "${kube_version[@]}"
  build kubernetes k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager -- "${kube_version[@]}"
  build kubernetes k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler -- "${kube_version[@]}"
  build kwok sigs.k8s.io/kwok/cmd/kwok kwok

  # kwok simulates nothing without Stage objects; use the "fast" stages the pinned kwok ships (what kwokctl
  # uses): nodes become Ready and keep a lease, pods become Running/Ready, Job pods Succeeded, deleted pods go.
  if [ ! -f "$out/kwok-stages.yaml" ]; then
    stages=$(cd kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
    for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
      pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
      echo "---"
      cat "$stages/$stage.yaml"
    done >"$out/kwok-stages.yaml.partial"
    mv -f "$out/kwok-stages.yaml.partial" "$out/kwok-stages.yaml"
  fi
else
  build kubelet k8s.io/kubernetes/cmd/kubelet kubelet -- "${kube_version[@]}"
  build kubelet k8s.io/kubernetes/cmd/kube-proxy kube-proxy -- "${kube_version[@]}"
  # Static and without the storage drivers that need cgo (the node uses overlayfs).
  containerd_tags=(-tags "no_btrfs no_devmapper no_zfs")
  containerd_version=("-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION")
  for name in containerd containerd-shim-runc-v2 ctr; do
    build containerd "github.com/containerd/containerd/v2/cmd/$name" "$name" "${containerd_tags[@]}" \
      -- "${containerd_version[@]}"
  done
  build coredns . coredns
fi

echo "$pin" >"$stamp"
echo "==> $group built in $((SECONDS - started))s"
