#!/usr/bin/env bash
# The main job: builds what is missing (cached under ~/.cache/llmkube), then runs `python -m hack.demo`.
# Arguments pass through: `hack/demo.sh --keep` keeps everything running until Ctrl-C; `hack/demo.sh --host` is
# the demo of `accelerator: host` (no containers, so no node binaries, Debian packages or images needed).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/venv.sh
hack/ensure-llama-server.sh
if [[ " $* " == *" --host "* ]]; then
  hack/build-k8s.sh
else
  hack/host-packages.sh
  hack/build-k8s.sh all
  # The controller and CPU llama-server images (and their Debian bases), built once with podman.
  .venv/bin/python -m hack.images build --only controller --only llama-server-cpu >/dev/null
fi
exec .venv/bin/python -m hack.demo "$@"
