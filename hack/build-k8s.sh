#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) from the
# pinned Go modules in hack/k8s-tools into ~/.cache/llmkube/k8s/<version>/bin, once.
#
# The stamp file records the pin (versions plus a hash of the tool modules' go.mod/go.sum); when it matches, the
# script exits at once, so callers (hack/test.sh, the cluster launcher) may run it every time. A changed pin
# rebuilds everything. An interrupted build leaves no stamp and resumes from Go's build cache.
# Nothing is written into the repository: go runs with -mod=readonly and outputs only to the cache.
set -euo pipefail
cd "$(dirname "$0")/k8s-tools"

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -p=${LLMKUBE_BUILD_JOBS:-2}"

cache_root=${LLMKUBE_K8S_CACHE:-$HOME/.cache/llmkube/k8s}
out=$cache_root/$K8S_VERSION
bin=$out/bin
# Only the control plane's own modules: hack/k8s-tools also holds tools built by hack/build-tools.sh.
pin="kubernetes=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION modules=$(cat {etcd,kubernetes,kwok}/go.mod {etcd,kubernetes,kwok}/go.sum | sha256sum | cut -c1-16)"

mkdir -p "$bin"
exec 9>"$out/.lock"
flock 9  # a second caller waits for the first build, then finds the stamp

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
complete() {
  [ "$(cat "$out/stamp" 2>/dev/null)" = "$pin" ] && [ -f "$out/kwok-stages.yaml" ] || return 1
  for name in "${binaries[@]}"; do [ -x "$bin/$name" ] || return 1; done
}
if complete; then
  exit 0
fi
if [ "$(cat "$out/stamp" 2>/dev/null)" != "$pin" ]; then
  rm -f "$bin"/* "$out/kwok-stages.yaml"  # another pin's outputs (or none): start over
fi
rm -f "$out/stamp"

started=$SECONDS
echo "==> building the local control plane into $bin ($pin)"

# build <module dir> <package> <binary name> [ldflags...]
build() {
  local module=$1 package=$2 name=$3
  shift 3
  [ -x "$bin/$name" ] && return 0
  local t0=$SECONDS
  echo "==> [$((SECONDS - started))s] go build $name ($package)"
  (cd "$module" && go build -trimpath -ldflags="-s -w $*" -o "$bin/$name.partial" "$package")
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

build etcd go.etcd.io/etcd/server/v3 etcd
build kubernetes k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "${kube_version[@]}"
build kubernetes k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager "${kube_version[@]}"
build kubernetes k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler "${kube_version[@]}"
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

echo "$pin" >"$out/stamp"
echo "==> local control plane built in $((SECONDS - started))s"
