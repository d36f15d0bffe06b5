"""Where the control-plane binaries live, and building them on first use.

hack/build-k8s.sh owns the pin and the cache layout; this module only asks it to make sure the binaries exist
(a no-op once the stamp matches) and then points at them. Nothing here runs unless a cluster is started, so
unit tests never trigger the build.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import attrs

_HACK = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = _HACK / "build-k8s.sh"


class BuildError(RuntimeError):
    pass


@attrs.frozen(kw_only=True)
class ControlPlaneBinaries:
    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def etcd(self) -> Path:
        return self.bin_dir / "etcd"

    @property
    def kube_apiserver(self) -> Path:
        return self.bin_dir / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.bin_dir / "kube-controller-manager"

    @property
    def kube_scheduler(self) -> Path:
        return self.bin_dir / "kube-scheduler"

    @property
    def kwok(self) -> Path:
        return self.bin_dir / "kwok"

    @property
    def kwok_stages(self) -> Path:
        return self.root / "kwok-stages.yaml"


def pinned_kubernetes_version() -> str:
    match = re.search(r"^K8S_VERSION=(\S+)$", BUILD_SCRIPT.read_text(), re.MULTILINE)
    if match is None:
        raise BuildError(f"{BUILD_SCRIPT} has no K8S_VERSION= line")
    return match.group(1)


def ensure_binaries() -> ControlPlaneBinaries:
    """Runs the build script (quick when the cache is current), streaming its progress to our stdout."""
    cache_root = Path(os.environ.get("LLMKUBE_K8S_CACHE", Path.home() / ".cache" / "llmkube" / "k8s"))
    binaries = ControlPlaneBinaries(root=cache_root / pinned_kubernetes_version())
    result = subprocess.run([str(BUILD_SCRIPT)], check=False)
    if result.returncode != 0:
        raise BuildError(
            f"{BUILD_SCRIPT} failed with status {result.returncode}; run it by hand to see the Go error "
            "(it needs Go >= 1.26 and the Go module proxy)"
        )
    return binaries
