#!/usr/bin/env bash
# For machines with Docker: LLMKube installed on a kind cluster the way `make demo` installs it on the embedded
# one. Builds the controller image from this checkout's Dockerfile (and, with --llama-server, a CPU llama-server
# image from deploy/images/llama-server-cpu), creates the kind cluster if it does not exist, loads the images
# into it with `kind load docker-image`, installs config/default through a generated kustomize overlay that
# names them (`kubectl apply -k`), waits for the controller, and prints the `llmkube deploy` command to try.
#
#   hack/kind-up.sh [--name NAME] [--llama-server] [--with-kwok] [--dry-run]
#
#   --name NAME      the kind cluster (default $KIND_CLUSTER_NAME or llmkube)
#   --llama-server   also build and load the CPU llama-server image (default: the public llama.cpp server image,
#                    which the kind node pulls from ghcr.io when a model is first served)
#   --with-kwok      also install kwok and the embedded cluster's fake CPU/GPU nodes, StorageClass and volume
#                    pool, so tests/integration can run against this cluster (LLMKUBE_TEST_KUBECONFIG)
#   --dry-run        print the commands instead of running them (needs neither Docker nor kind)
#
# Needs docker, kind, kubectl, internet access (base images, kind's node image) and this repository's .venv
# (hack/venv.sh). This repository's CI has no Docker engine, so it checks this script with `bash -n`,
# ShellCheck and --dry-run only (tests/unit/deploy/test_kind_up.py); docs/kind.md says so.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${KIND_CLUSTER_NAME:-llmkube}
llama_server=false
with_kwok=false
dry_run=false
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --llama-server) llama_server=true; shift ;;
    --with-kwok) with_kwok=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hack/kind-up.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

kwok_version=v0.8.0  # keep in step with hack/build-k8s.sh
python=.venv/bin/python
state=${XDG_CACHE_HOME:-$HOME/.cache}/llmkube/kind-$name
kubeconfig=$state/kubeconfig
overlay=$state/overlay
# Content of the checkout, not a moving name: a rebuilt image after a change gets a new tag, so kind's nodes
# (imagePullPolicy IfNotPresent) never run a stale one.
tag=dev-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  tag=$tag-dirty-$(git diff HEAD 2>/dev/null | sha256sum | cut -c1-8)
fi
controller_image=localhost/llmkube/controller:$tag
llama_base_image=localhost/llmkube/debian-llama:$tag
llama_image=localhost/llmkube/llama-server-cpu:$tag

# Runs a command, or with --dry-run prints it (shell-quoted) instead.
run() {
  if $dry_run; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

say() { echo "==> $*" >&2; }

say "building $controller_image from ./Dockerfile"
run docker build --tag "$controller_image" .
images=("$controller_image")
overlay_args=(--controller "$controller_image")
if $llama_server; then
  context=$state/llama-server-context
  say "building $llama_image from deploy/images/llama-server-cpu (the pinned llama.cpp build)"
  run "$python" -m hack.images context llama-server-cpu "$context"
  run docker build --tag "$llama_base_image" deploy/images/debian-llama
  run docker build --tag "$llama_image" --build-arg "BASE_IMAGE=$llama_base_image" "$context"
  images+=("$llama_image")
  overlay_args+=(--llama-server-cpu "$llama_image")
fi

run mkdir -p "$state"
if $dry_run || ! kind get clusters 2>/dev/null | grep -qx "$name"; then
  say "creating the kind cluster $name (skipped when it exists)"
  run kind create cluster --name "$name" --kubeconfig "$kubeconfig" --wait 120s
else
  say "using the existing kind cluster $name"
  run kind export kubeconfig --name "$name" --kubeconfig "$kubeconfig"
fi

say "loading ${images[*]} into the cluster's nodes"
run kind load docker-image --name "$name" "${images[@]}"

say "installing config/default with these images (overlay: $overlay)"
run "$python" -m hack.images overlay "$overlay" "${overlay_args[@]}"
run kubectl --kubeconfig "$kubeconfig" apply -k "$overlay"
run kubectl --kubeconfig "$kubeconfig" -n llmkube-system rollout status deployment/llmkube-controller-manager \
  --timeout=300s

if $with_kwok; then
  releases=https://github.com/kubernetes-sigs/kwok/releases/download/$kwok_version
  say "installing kwok $kwok_version and the fake nodes the integration tests use"
  run kubectl --kubeconfig "$kubeconfig" apply -f "$releases/kwok.yaml"
  run kubectl --kubeconfig "$kubeconfig" apply -f "$releases/stage-fast.yaml"
  run kubectl --kubeconfig "$kubeconfig" -n kube-system rollout status deployment/kwok-controller --timeout=120s
  run "$python" -m hack.localcluster nodes --kubeconfig "$kubeconfig"
fi

cat <<EOF

LLMKube is running on the kind cluster $name. Try it:

  export KUBECONFIG=$kubeconfig
  llmkube deploy smollm2-135m --accelerator cpu --wait
  llmkube chat smollm2-135m -m 'What is Kubernetes? One sentence.'
EOF
if $with_kwok; then
  echo "  export LLMKUBE_TEST_KUBECONFIG=$kubeconfig   # tests/integration against this cluster"
fi
echo "  kind delete cluster --name $name   # when done"
