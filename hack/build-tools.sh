#!/usr/bin/env bash
# Builds the observability and packaging tools the tests use from the pinned Go modules in hack/k8s-tools, once:
#   hack/build-tools.sh helm          helm (chart lint, template, package, install into the local cluster)
#   hack/build-tools.sh prometheus    prometheus and promtool (dashboard and alert queries, rule unit tests)
#   hack/build-tools.sh [all]         both
# Each tool lands in ~/.cache/llmkube/tools/<tool>-<version>/bin with its own stamp and lock, so a new helm pin
# never rebuilds Prometheus. The stamp records the pin (version plus a hash of the tool module's go.mod/go.sum);
# when it matches, the script exits at once, so hack/test.sh and the test fixtures may run it every time.
# An interrupted build leaves no stamp and resumes from Go's build cache. Nothing is written into the
# repository: go runs with -mod=readonly and outputs only to the cache. `--print-bin TOOL` prints the bin
# directory without building (the Python side finds the binaries through it).
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$self")/k8s-tools"

HELM_VERSION=v4.3.2
# Prometheus 3.x publishes its Go module as v0.3XX.Y for release 3.XX.Y.
PROMETHEUS_MODULE_VERSION=v0.316.0
PROMETHEUS_VERSION=3.16.0

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -p=${LLMKUBE_BUILD_JOBS:-2}"

cache_root=${LLMKUBE_TOOLS_CACHE:-$HOME/.cache/llmkube/tools}

version_of() {
  case $1 in
    helm) echo "$HELM_VERSION" ;;
    prometheus) echo "v$PROMETHEUS_VERSION" ;;
  esac
}

usage() {
  echo "usage: $0 [helm|prometheus|all] | --print-bin helm|prometheus" >&2
  exit 2
}

if [ "${1:-}" = --print-bin ]; then
  case ${2:-} in helm | prometheus) ;; *) usage ;; esac
  echo "$cache_root/$2-$(version_of "$2")/bin"
  exit 0
fi

tool=${1:-all}
case $tool in
  helm | prometheus) ;;
  all)
    "$self" helm
    exec "$self" prometheus
    ;;
  *) usage ;;
esac

# The module must pin the release named above, or the stamp would lie about what was built.
case $tool in
  helm) wanted="helm.sh/helm/v4 $HELM_VERSION" ;;
  prometheus) wanted="github.com/prometheus/prometheus $PROMETHEUS_MODULE_VERSION" ;;
esac
grep -Eq "^(require )?[[:space:]]*$wanted( // indirect)?\$" "$tool/go.mod" || {
  echo "hack/k8s-tools/$tool/go.mod does not require $wanted" >&2
  exit 1
}

out=$cache_root/$tool-$(version_of "$tool")
bin=$out/bin
pin="$tool=$(version_of "$tool") modules=$(cat "$tool/go.mod" "$tool/go.sum" | sha256sum | cut -c1-16)"
mkdir -p "$bin"
exec 9>"$out/.lock"
flock 9 # a second caller waits for the first build, then finds the stamp

case $tool in
  helm) binaries=(helm) ;;
  prometheus) binaries=(prometheus promtool) ;;
esac
complete() {
  [ "$(cat "$out/stamp" 2>/dev/null)" = "$pin" ] || return 1
  for name in "${binaries[@]}"; do [ -x "$bin/$name" ] || return 1; done
}
if complete; then
  exit 0
fi
if [ "$(cat "$out/stamp" 2>/dev/null)" != "$pin" ]; then
  rm -f "$bin"/* # another pin's outputs (or none): start over
fi
rm -f "$out/stamp"

started=$SECONDS
echo "==> building $tool into $bin ($pin)"

# build <package> <binary name> <build tags> [ldflags...]
build() {
  local package=$1 name=$2 tags=$3
  shift 3
  [ -x "$bin/$name" ] && return 0
  local t0=$SECONDS
  echo "==> [$((SECONDS - started))s] go build $name ($package)"
  (cd "$tool" && go build -trimpath -tags "$tags" -ldflags="-s -w $*" -o "$bin/$name.partial" "$package")
  mv -f "$bin/$name.partial" "$bin/$name"
  echo "    $name built in $((SECONDS - t0))s"
}

case $tool in
  helm)
    build helm.sh/helm/v4/cmd/helm helm "" \
      "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
      "-X helm.sh/helm/v4/internal/version.gitTreeState=clean"
    ;;
  prometheus)
    # remove_all_sd drops every cloud service-discovery plugin (static and file discovery stay), which halves
    # the build; without the builtinassets tag no web UI assets are compiled in: the tests use the HTTP API.
    prom_version=(
      "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION"
      "-X github.com/prometheus/common/version.Branch=release"
      "-X github.com/prometheus/common/version.BuildUser=llmkube"
    )
    build github.com/prometheus/prometheus/cmd/prometheus prometheus remove_all_sd "${prom_version[@]}"
    build github.com/prometheus/prometheus/cmd/promtool promtool remove_all_sd "${prom_version[@]}"
    ;;
esac

echo "$pin" >"$out/stamp"
echo "==> $tool built in $((SECONDS - started))s"
