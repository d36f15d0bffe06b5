#!/usr/bin/env bash
# The main job: builds what is missing (cached under ~/.cache/llmkube), then runs hack/demo.py.
# Arguments pass through: `hack/demo.sh --keep` keeps everything running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/venv.sh
hack/ensure-llama-server.sh
hack/build-k8s.sh
exec .venv/bin/python -m hack.demo "$@"
