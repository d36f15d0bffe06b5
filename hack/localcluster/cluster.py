"""LocalCluster: a real control plane (etcd, kube-apiserver, controller-manager, scheduler) plus kwok, as local
processes in a temporary directory.

Start order follows the dependencies: etcd, then kube-apiserver (ready on /readyz), then the three clients of
the API. `start()` returns only when the cluster is usable by a test at once: the fake nodes are Ready and free
of lifecycle taints, the scheduler and controller-manager answer /healthz, and the `default` ServiceAccount
exists (pods are rejected until it does).
"""

from __future__ import annotations

import base64
import http
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from hack.localcluster import audit, certs
from hack.localcluster.base import ClusterBase
from hack.localcluster.binaries import ensure_binaries
from hack.localcluster.components import (
    ComponentKubeconfigs,
    ControlPlaneLayout,
    Ports,
    apiserver_argv,
    controller_manager_argv,
    etcd_argv,
    kwok_argv,
    scheduler_argv,
)
from hack.localcluster.inventory import DEFAULT_NODES, DEFAULT_VOLUME_POOL, FakeNode
from hack.localcluster.kubeconfig import write_kubeconfig
from hack.localcluster.portforward import install_port_forward_crd
from hack.localcluster.processes import ManagedProcess
from hack.localcluster.rest import RestClient, is_ok, wait_until

_START_TIMEOUT_SECONDS = 120.0


class LocalCluster(ClusterBase):
    def __init__(self, *, layout: ControlPlaneLayout, kubeconfig: Path, keep_state: bool) -> None:
        self.layout = layout
        self.kubeconfig = kubeconfig
        self.server = layout.server_url
        self.state_dir = layout.state_dir
        self._keep_state = keep_state
        self._volume_root = layout.state_dir / "volumes"
        self.audit_log = layout.state_dir / audit.LOG_FILE
        self._admin = RestClient(
            server=self.server, ca=layout.pki.ca.cert, client=layout.pki.client(certs.ADMIN)
        )
        self._etcd = RestClient(server=layout.etcd_url, ca=None, client=None)
        logs = layout.state_dir / "logs"
        self.etcd = ManagedProcess(name="etcd", argv=etcd_argv(layout), log_path=logs / "etcd.log")
        self.apiserver = ManagedProcess(
            name="kube-apiserver", argv=apiserver_argv(layout), log_path=logs / "kube-apiserver.log"
        )
        self.controller_manager = ManagedProcess(
            name="kube-controller-manager",
            argv=controller_manager_argv(layout),
            log_path=logs / "kube-controller-manager.log",
        )
        self.scheduler = ManagedProcess(
            name="kube-scheduler", argv=scheduler_argv(layout), log_path=logs / "kube-scheduler.log"
        )
        self.kwok = ManagedProcess(name="kwok", argv=kwok_argv(layout), log_path=logs / "kwok.log")
        self.started_in_seconds = 0.0

    @property
    def processes(self) -> Sequence[ManagedProcess]:
        return (self.etcd, self.apiserver, self.controller_manager, self.scheduler, self.kwok)

    @property
    def process_group_ids(self) -> list[int]:
        return [pgid for process in self.processes for pgid in process.process_group_ids]

    @classmethod
    def start(
        cls,
        *,
        nodes: Iterable[FakeNode] = DEFAULT_NODES,
        volume_pool: Iterable[tuple[str, int]] = DEFAULT_VOLUME_POOL,
        keep_state: bool = False,
    ) -> LocalCluster:
        """Builds the binaries if needed, starts every component and returns once the cluster is usable."""
        binaries = ensure_binaries()
        began = time.monotonic()
        state_dir = Path(tempfile.mkdtemp(prefix="llmkube-cluster-"))
        pki = certs.generate_pki(state_dir / "pki")
        audit.write_policy(state_dir)
        ports = Ports.pick_free()
        server = f"https://127.0.0.1:{ports.apiserver}"

        def component_kubeconfig(identity: certs.ClientIdentity, name: str) -> Path:
            return write_kubeconfig(
                state_dir / f"{name}.kubeconfig",
                server=server,
                ca=pki.ca.cert,
                client=pki.client(identity),
                user=identity.user,
            )

        layout = ControlPlaneLayout(
            binaries=binaries,
            state_dir=state_dir,
            ports=ports,
            pki=pki,
            kubeconfigs=ComponentKubeconfigs(
                controller_manager=component_kubeconfig(certs.CONTROLLER_MANAGER, "kube-controller-manager"),
                scheduler=component_kubeconfig(certs.SCHEDULER, "kube-scheduler"),
                kwok=component_kubeconfig(certs.KWOK, "kwok"),
            ),
        )
        cluster = cls(
            layout=layout, kubeconfig=component_kubeconfig(certs.ADMIN, "admin"), keep_state=keep_state
        )
        try:
            cluster._boot(nodes=list(nodes), volume_pool=list(volume_pool))
        except BaseException:
            cluster.stop()
            raise
        cluster.started_in_seconds = time.monotonic() - began
        return cluster

    def _boot(self, *, nodes: list[FakeNode], volume_pool: list[tuple[str, int]]) -> None:
        self.etcd.start()
        wait_until(
            lambda: self._etcd.call("GET", "/health").get("health") == "true",
            what="etcd /health",
            timeout_seconds=_START_TIMEOUT_SECONDS,
            check=self.etcd.check_alive,
        )
        self.apiserver.start()
        self._wait_for_apiserver()
        install_port_forward_crd(self._admin)  # before kwok starts watching it
        for process in (self.controller_manager, self.scheduler, self.kwok):
            process.start()
        self._install_inventory(nodes, volume_pool)

        def all_alive() -> None:
            for process in self.processes:
                process.check_alive()

        scheduler = RestClient(
            server=f"https://127.0.0.1:{self.layout.ports.scheduler}", ca=None, client=None
        )
        manager = RestClient(
            server=f"https://127.0.0.1:{self.layout.ports.controller_manager}", ca=None, client=None
        )
        wait_until(
            lambda: is_ok(scheduler, "/healthz") and is_ok(manager, "/healthz"),
            what="kube-scheduler and kube-controller-manager /healthz",
            timeout_seconds=_START_TIMEOUT_SECONDS,
            check=all_alive,
        )
        wait_until(
            lambda: is_ok(self._admin, "/api/v1/namespaces/default/serviceaccounts/default"),
            what="the default ServiceAccount",
            timeout_seconds=_START_TIMEOUT_SECONDS,
            check=all_alive,
        )
        self.wait_for_nodes([node.name for node in nodes], timeout_seconds=_START_TIMEOUT_SECONDS)

    def _wait_for_apiserver(self) -> None:
        wait_until(
            lambda: is_ok(self._admin, "/readyz"),
            what="kube-apiserver /readyz",
            timeout_seconds=_START_TIMEOUT_SECONDS,
            check=self.apiserver.check_alive,
        )

    # -- operations that need the processes ---------------------------------------------------------------

    def restart_apiserver(self) -> None:
        """Stops kube-apiserver and starts it again on the same port; watches and connections break."""
        self.apiserver.stop()
        self.apiserver.start()
        self._wait_for_apiserver()

    def compact_etcd(self) -> int:
        """Compacts etcd to its current revision, so lists and watches at any older resourceVersion get
        410 Gone; returns the revision compacted to.

        kube-apiserver's watch cache would keep serving its own window of history (and snapshots) after a
        compaction it did not perform, so the API server is restarted as well; its watches break as in a
        real control-plane upgrade.
        """
        header = self._etcd.call("POST", "/v3/kv/range", body={"key": base64.b64encode(b"/").decode()})[
            "header"
        ]
        revision = int(header["revision"])
        self._etcd.call("POST", "/v3/kv/compaction", body={"revision": revision, "physical": True})
        self.restart_apiserver()
        return revision

    def etcd_healthy(self) -> bool:
        return self._etcd.request("GET", "/health").status == http.HTTPStatus.OK

    # -- lifecycle ----------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops the API's clients first so they do not log a storm of errors, then the API, then etcd."""
        for process in (self.kwok, self.scheduler, self.controller_manager, self.apiserver, self.etcd):
            process.stop()
        if not self._keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
