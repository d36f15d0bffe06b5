#!/usr/bin/env bash
# For machines with Docker: a kind cluster for the same integration and e2e suites, with kwok inside it
# simulating the embedded cluster's CPU and GPU nodes. Needs docker, kind, kubectl and internet access, so it
# cannot run in Docker-less, offline environments (use `python -m hack.localcluster up` there).
# Then: export LLMKUBE_TEST_KUBECONFIG=<printed path> and run pytest as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${KIND_CLUSTER_NAME:-llmkube-e2e}
kwok_version=v0.8.0  # keep in step with hack/build-k8s.sh
kubeconfig=$HOME/.cache/llmkube/kind-$name.kubeconfig
mkdir -p "$(dirname "$kubeconfig")"

kind create cluster --name "$name" --kubeconfig "$kubeconfig" --wait 120s
export KUBECONFIG=$kubeconfig
releases=https://github.com/kubernetes-sigs/kwok/releases/download/$kwok_version
kubectl apply -f "$releases/kwok.yaml"
kubectl apply -f "$releases/stage-fast.yaml"
kubectl -n kube-system rollout status deployment/kwok-controller --timeout=120s
.venv/bin/python -m hack.localcluster nodes --kubeconfig "$kubeconfig"
echo "export LLMKUBE_TEST_KUBECONFIG=$kubeconfig"
