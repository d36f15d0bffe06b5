#!/usr/bin/env bash
# Creates .venv with LLMKube and its test tools, pinned to the versions recorded in constraints.txt.
# Re-running is cheap: a stamp records the hash of pyproject.toml and constraints.txt, and pip runs only when
# either changed since (or when the stamp or .venv is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
stamp=.venv/.llmkube-installed
wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  echo "==> .venv is up to date with pyproject.toml and constraints.txt"
  exit 0
fi
echo "==> installing llmkube and test tools into .venv"
.venv/bin/pip install -q -c constraints.txt -e '.[test]'
echo "$wanted" >"$stamp"
