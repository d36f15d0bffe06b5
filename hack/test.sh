#!/usr/bin/env bash
# The full test suite: lint, types, layer contracts, generated-file checks, then unit, integration and e2e tests.
# The first run builds the local Kubernetes control plane, the real node's binaries, llama-server, helm,
# Prometheus and the container images and caches them under ~/.cache/llmkube; later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/venv.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "==> llama-server (cached under ~/.cache/llmkube)"
hack/ensure-llama-server.sh
echo "==> Debian packages the real node and the image builds need"
hack/host-packages.sh
echo "==> Kubernetes control plane and node binaries (cached under ~/.cache/llmkube)"
hack/build-k8s.sh all
echo "==> container images (cached under ~/.cache/llmkube/images)"
python -m hack.images build
echo "==> helm, prometheus and promtool (cached under ~/.cache/llmkube)"
hack/build-tools.sh

echo "==> lint and types"
ruff check .
ruff format --check .
mypy
lint-imports
hadolint Dockerfile deploy/images/*/Dockerfile
shellcheck hack/*.sh
python -m api.crdgen --check
python -m api.docgen --check
python -m llmkube.bundle --check
python -m hack.chart_files --check

echo "==> tests"
exec pytest "$@"
