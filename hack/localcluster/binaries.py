"""Where the control-plane and node binaries live, and building them on first use.

hack/build-k8s.sh owns the pins and the cache layout; this module only asks it to make sure the binaries exist
(a no-op once the stamp matches) and then points at them. Nothing here runs unless a cluster is started, so
unit tests never trigger the build. A real node also needs Debian packages (runc, the CNI plugins, iptables),
which hack/host-packages.sh installs when one is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import attrs

_HACK = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = _HACK / "build-k8s.sh"
HOST_PACKAGES_SCRIPT = _HACK / "host-packages.sh"


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


@attrs.frozen(kw_only=True)
class NodeBinaries:
    bin_dir: Path

    @property
    def kubelet(self) -> Path:
        return self.bin_dir / "kubelet"

    @property
    def kube_proxy(self) -> Path:
        return self.bin_dir / "kube-proxy"

    @property
    def containerd(self) -> Path:
        return self.bin_dir / "containerd"

    @property
    def ctr(self) -> Path:
        return self.bin_dir / "ctr"

    @property
    def coredns(self) -> Path:
        return self.bin_dir / "coredns"


def pinned_kubernetes_version() -> str:
    match = re.search(r"^K8S_VERSION=(\S+)$", BUILD_SCRIPT.read_text(), re.MULTILINE)
    if match is None:
        raise BuildError(f"{BUILD_SCRIPT} has no K8S_VERSION= line")
    return match.group(1)


def ensure_binaries() -> ControlPlaneBinaries:
    """Runs the build script (quick when the cache is current), streaming its progress to our stdout."""
    _build("control-plane")
    return ControlPlaneBinaries(root=_cache_dir())


def ensure_node_binaries() -> NodeBinaries:
    """The node group of the build script, after the Debian packages the node runs with."""
    result = subprocess.run([str(HOST_PACKAGES_SCRIPT)], check=False)
    if result.returncode != 0:
        raise BuildError(f"{HOST_PACKAGES_SCRIPT} failed with status {result.returncode}")
    _build("node")
    return NodeBinaries(bin_dir=_cache_dir() / "bin")


def _cache_dir() -> Path:
    cache_root = Path(os.environ.get("LLMKUBE_K8S_CACHE", Path.home() / ".cache" / "llmkube" / "k8s"))
    return cache_root / pinned_kubernetes_version()


def _build(group: str) -> None:
    result = subprocess.run([str(BUILD_SCRIPT), group], check=False)
    if result.returncode != 0:
        raise BuildError(
            f"{BUILD_SCRIPT} {group} failed with status {result.returncode}; run it by hand to see the Go error "
            "(it needs Go >= 1.26 and the Go module proxy)"
        )
