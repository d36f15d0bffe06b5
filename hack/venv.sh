#!/usr/bin/env bash
# Creates .venv with LLMKube and its test tools, pinned to the versions recorded in constraints.txt.
# Re-running is cheap: pip skips what is already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
echo "==> installing llmkube and test tools into .venv"
.venv/bin/pip install -q -c constraints.txt -e '.[test]'
