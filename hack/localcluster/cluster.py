"""LocalCluster: a real control plane (etcd, kube-apiserver, controller-manager, scheduler) plus kwok, as local
processes in a temporary directory, and optionally one real node (see realnode.py).

Start order follows the dependencies: etcd, then kube-apiserver (ready on /readyz), then the three clients of
the API. `start()` returns only when the cluster is usable by a test at once: the fake nodes are Ready and free
of lifecycle taints, the scheduler and controller-manager answer /healthz, and the `default` ServiceAccount
exists (pods are rejected until it does).

With `real_node=True` the cluster is one for real workloads: the machine-wide real-node lock is taken and the
host snapshotted before anything else, the API server listens on the node's address, the real node (untainted,
labelled NODE_LABEL) must be Ready before `start()` returns, and kwok's fake CPU nodes are left out so ordinary
pods land on the real node; the fake GPU nodes stay, tainted as always. `stop()` restores the host and raises
HostStateChangedError if anything differs from the snapshot.
"""

from __future__ import annotations

import base64
import http
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType

from hack.localcluster import audit, certs
from hack.localcluster.base import ClusterBase
from hack.localcluster.binaries import (
    ControlPlaneBinaries,
    NodeBinaries,
    ensure_binaries,
    ensure_node_binaries,
)
from hack.localcluster.components import (
    LOOPBACK,
    ComponentKubeconfigs,
    ControlPlaneLayout,
    Ports,
    apiserver_argv,
    controller_manager_argv,
    etcd_argv,
    kwok_argv,
    scheduler_argv,
)
from hack.localcluster.hoststate import STATE_DIR_PREFIX, HostState, mounts_in_scope
from hack.localcluster.images import pause_image
from hack.localcluster.inventory import DEFAULT_NODES, DEFAULT_VOLUME_POOL, REAL_NODE_COMPANIONS, FakeNode
from hack.localcluster.kubeconfig import write_kubeconfig
from hack.localcluster.nodeconfig import NODE_IP, NODE_NAME, NodeKubeconfigs, NodeLayout, NodePorts
from hack.localcluster.nodehost import NodeHost
from hack.localcluster.portforward import install_port_forward_crd
from hack.localcluster.processes import ManagedProcess
from hack.localcluster.realnode import RealNode
from hack.localcluster.rest import RestClient, is_ok, wait_until

_START_TIMEOUT_SECONDS = 120.0
#: containerd, the kubelet's registration and the first kube-proxy sync on a loaded 2-core machine.
_NODE_START_TIMEOUT_SECONDS = 180.0


class HostStateChangedError(RuntimeError):
    """The real node's teardown left the host different from the snapshot taken before it started."""


class LocalCluster(ClusterBase):
    #: The real node, when the cluster was started with one.
    node: RealNode | None = None
    _host: NodeHost | None = None
    #: With a real node: the host as it was before the node started, and what differed after stop().
    host_baseline: HostState | None = None
    host_differences: list[str] | None = None

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
        node = tuple(self.node.processes) if self.node is not None else ()
        return (self.etcd, self.apiserver, self.controller_manager, self.scheduler, self.kwok, *node)

    @property
    def process_group_ids(self) -> list[int]:
        return [pgid for process in self.processes for pgid in process.process_group_ids]

    @classmethod
    def start(
        cls,
        *,
        nodes: Iterable[FakeNode] | None = None,
        volume_pool: Iterable[tuple[str, int]] = DEFAULT_VOLUME_POOL,
        keep_state: bool = False,
        real_node: bool = False,
        image_store: Path | None = None,
    ) -> LocalCluster:
        """Builds the binaries if needed, starts every component and returns once the cluster is usable.

        `nodes` defaults to the standard fake nodes, or with `real_node` to the fake GPU nodes only. A real node
        waits for the machine-wide real-node lock while another one runs (it says so on stderr). With
        `image_store` (imagestore.IMAGE_STORE), the real node keeps its images there between clusters.
        """
        binaries = ensure_binaries()
        node_binaries = ensure_node_binaries() if real_node else None
        pause = pause_image() if real_node else None
        if nodes is None:
            nodes = REAL_NODE_COMPANIONS if real_node else DEFAULT_NODES
        state_dir = Path(tempfile.mkdtemp(prefix=Path(STATE_DIR_PREFIX).name))
        host = None
        try:
            if node_binaries is not None:
                host = NodeHost.claim(bin_dir=node_binaries.bin_dir, state_dir=state_dir)
            began = time.monotonic()
            cluster = cls._assemble(
                binaries=binaries,
                node_binaries=node_binaries,
                pause_reference=pause.reference if pause is not None else None,
                state_dir=state_dir,
                keep_state=keep_state,
                image_store=image_store,
            )
        except BaseException:
            if host is not None:
                host.release()
            shutil.rmtree(state_dir, ignore_errors=True)
            raise
        cluster._host = host
        cluster.host_baseline = host.baseline if host is not None else None
        try:
            cluster._boot(nodes=list(nodes), volume_pool=list(volume_pool))
            if cluster.node is not None and pause is not None:
                cluster.node.start(pause_image=pause.path, timeout_seconds=_NODE_START_TIMEOUT_SECONDS)
        except BaseException:
            cluster.stop()
            raise
        cluster.started_in_seconds = time.monotonic() - began
        return cluster

    @classmethod
    def _assemble(
        cls,
        *,
        binaries: ControlPlaneBinaries,
        node_binaries: NodeBinaries | None,
        pause_reference: str | None,
        state_dir: Path,
        keep_state: bool,
        image_store: Path | None = None,
    ) -> LocalCluster:
        """Certificates, kubeconfigs and command lines for every component; starts nothing."""
        real_node = node_binaries is not None
        node_clients = (
            (
                certs.kubelet_identity(NODE_NAME),
                certs.KUBE_PROXY,
                certs.COREDNS,
                certs.APISERVER_KUBELET_CLIENT,
            )
            if real_node
            else ()
        )
        pki = certs.generate_pki(
            state_dir / "pki",
            apiserver_ips=(NODE_IP,) if real_node else (),
            extra_clients=node_clients,
            kubelet_ip=NODE_IP if real_node else None,
        )
        audit.write_policy(state_dir)
        ports = Ports.pick_free()
        address = NODE_IP if real_node else LOOPBACK
        server = f"https://{address}:{ports.apiserver}"

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
            apiserver_address=address,
            real_node=real_node,
        )
        cluster = cls(
            layout=layout, kubeconfig=component_kubeconfig(certs.ADMIN, "admin"), keep_state=keep_state
        )
        if node_binaries is not None and pause_reference is not None:
            cluster.node = RealNode(
                layout=_node_layout(
                    node_binaries,
                    state_dir=state_dir,
                    pki=pki,
                    pause_image=pause_reference,
                    kubeconfig=component_kubeconfig,
                    image_store=image_store,
                ),
                admin=cluster._admin,
            )
        return cluster

    def load_image(self, archive: Path) -> list[str]:
        """Imports an image archive into the real node (see RealNode.load_image); returns the image names."""
        if self.node is None:
            raise RuntimeError(
                "this cluster has no real node to load images into (start it with real_node=True)"
            )
        return self.node.load_image(archive)

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
        """Stops the node, then the API's clients (so they do not log a storm of errors), the API and etcd;
        then restores the host a real node changed.

        Raises HostStateChangedError, once everything is stopped, if the host differs from before the node.
        """
        if self.node is not None:
            self.node.stop()
        for process in (self.kwok, self.scheduler, self.controller_manager, self.apiserver, self.etcd):
            process.stop()
        host, self._host = self._host, None
        differences = host.release() if host is not None else []
        if host is not None:
            self.host_differences = differences
        if not self._keep_state:
            _remove_state_dir(self.state_dir)
        if differences:
            raise HostStateChangedError(
                "the real node's teardown left the host changed:\n  " + "\n  ".join(differences)
            )

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _node_layout(
    binaries: NodeBinaries,
    *,
    state_dir: Path,
    pki: certs.ClusterPki,
    pause_image: str,
    kubeconfig: Callable[[certs.ClientIdentity, str], Path],
    image_store: Path | None,
) -> NodeLayout:
    if pki.kubelet_serving is None:
        raise RuntimeError("the PKI has no kubelet serving certificate")
    free = Ports.pick_free()  # six free loopback ports; the node needs five
    return NodeLayout(
        binaries=binaries,
        state_dir=state_dir / "node",
        ports=NodePorts(
            kubelet_healthz=free.etcd_client,
            proxy_healthz=free.etcd_peer,
            proxy_metrics=free.apiserver,
            dns_health=free.controller_manager,
            dns_ready=free.scheduler,
        ),
        ca=pki.ca.cert,
        kubelet_serving=pki.kubelet_serving,
        kubeconfigs=NodeKubeconfigs(
            kubelet=kubeconfig(certs.kubelet_identity(NODE_NAME), "kubelet"),
            kube_proxy=kubeconfig(certs.KUBE_PROXY, "kube-proxy"),
            coredns=kubeconfig(certs.COREDNS, "coredns"),
        ),
        pause_image=pause_image,
        image_store=image_store,
    )


def _remove_state_dir(state_dir: Path) -> None:
    """Removes the state dir, unless something is still mounted inside it: deleting through a mount would
    delete what is mounted (a host directory bound into a pod), so then the directory stays."""
    if any(point.startswith(f"{state_dir}/") for point, _fstype in mounts_in_scope()):
        return
    shutil.rmtree(state_dir, ignore_errors=True)
