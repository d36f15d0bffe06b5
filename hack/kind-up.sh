#!/usr/bin/env bash
# For machines with Docker: a kind cluster for the integration tests (tests/integration), with kwok inside it
# simulating the embedded cluster's CPU and GPU nodes, and the same default StorageClass and volume pool.
# e2e/ always starts its own embedded cluster, so it does not use this one.
# Needs docker, kind, kubectl and internet access. Never run in this repository's CI, which has no Docker
# engine; there, `python -m hack.localcluster up` serves the same purpose.
# Then: export LLMKUBE_TEST_KUBECONFIG=<printed path> and run pytest tests/integration.
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
