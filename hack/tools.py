"""helm, prometheus and promtool for tests and scripts: built once by hack/build-tools.sh, found in its cache.

The build script owns the pins and the cache layout (`--print-bin TOOL` names the directory); this module asks it
to make sure a tool exists (a no-op once its stamp matches) and points at the binary. Nothing here runs at import,
so collecting tests never triggers a build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

BUILD_SCRIPT = Path(__file__).resolve().parent / "build-tools.sh"


class ToolBuildError(RuntimeError):
    pass


def _ensure(tool: str) -> Path:
    """Builds `tool` if its cache is not current (progress goes to our stdout) and returns its bin directory."""
    built = subprocess.run([str(BUILD_SCRIPT), tool], check=False)
    if built.returncode != 0:
        raise ToolBuildError(
            f"{BUILD_SCRIPT} {tool} failed with status {built.returncode}; run it by hand to see the Go error "
            "(it needs Go >= 1.26 and the Go module proxy)"
        )
    found = subprocess.run(
        [str(BUILD_SCRIPT), "--print-bin", tool], check=True, capture_output=True, text=True
    )
    return Path(found.stdout.strip())


def helm_binary() -> Path:
    return _ensure("helm") / "helm"


def prometheus_binary() -> Path:
    return _ensure("prometheus") / "prometheus"


def promtool_binary() -> Path:
    return _ensure("prometheus") / "promtool"
