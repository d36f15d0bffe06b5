#!/usr/bin/env bash
# The full test suite: lint, types, layer contracts, generated-file checks, then unit, integration and e2e tests.
# The first run builds the local Kubernetes control plane, the real node's binaries, llama-server, helm,
# Prometheus and the container images and caches them under ~/.cache/llmkube; later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's heading carries the seconds since the start, so a log shows where a run spent its time.
hack/venv.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "==> [${SECONDS} s] llama-server (cached under ~/.cache/llmkube)"
hack/ensure-llama-server.sh
echo "==> [${SECONDS} s] Debian packages the real node and the image builds need"
hack/host-packages.sh
echo "==> [${SECONDS} s] Kubernetes control plane and node binaries (cached under ~/.cache/llmkube)"
hack/build-k8s.sh all
echo "==> [${SECONDS} s] container images (cached under ~/.cache/llmkube/images)"
python -m hack.images build
echo "==> [${SECONDS} s] helm, prometheus and promtool (cached under ~/.cache/llmkube)"
hack/build-tools.sh

echo "==> [${SECONDS} s] lint and types"
ruff check .
ruff format --check .
# One mypy cache for every checkout: it checks each module's hash, so a fresh clone rechecks only what differs.
MYPY_CACHE_DIR="${LLMKUBE_CACHE:-$HOME/.cache/llmkube}/mypy" mypy
lint-imports
hadolint Dockerfile deploy/images/*/Dockerfile
shellcheck hack/*.sh
python -m api.crdgen --check
python -m api.docgen --check
python -m llmkube.bundle --check
python -m hack.chart_files --check

echo "==> [${SECONDS} s] tests"
# Two workers: most of the suite waits (pods, control planes, llama-server), so two sessions overlap their waits.
# Each file, and each xdist group (the real node, the container images), stays on one worker (hack/xdist_plan.py).
# LLMKUBE_TEST_WORKERS=0 runs everything in this process; arguments to hack/test.sh come last and win.
exec pytest -n "${LLMKUBE_TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder "$@"
