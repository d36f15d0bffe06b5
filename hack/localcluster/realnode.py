"""RealNode: a node that runs containers, beside kwok's simulated ones.

containerd (with runc and the CNI bridge), the kubelet, kube-proxy and CoreDNS run as ManagedProcesses, like
the control plane, with all their files under `<cluster state dir>/node`. The node registers as NODE_NAME with
the label NODE_LABEL and no taint; kwok leaves it alone because it lacks kwok's node annotation.

Cluster DNS: CoreDNS runs on the host, listening on NODE_IP:53, and the `kube-dns` Service (ClusterIP
CLUSTER_DNS_IP, the kubelet's clusterDNS) has an EndpointSlice pointing there, so pods resolve
`*.svc.cluster.local` through kube-proxy exactly as through a CoreDNS Deployment.

The machine-wide side (lock, node address, snapshot and restore of the host) is NodeHost's; LocalCluster owns
both and stops this first.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hack.localcluster import imagestore
from hack.localcluster.images import IMAGE_CACHE
from hack.localcluster.nodeconfig import (
    CLUSTER_DNS_IP,
    DNS_PORT,
    NODE_IP,
    NODE_NAME,
    NodeLayout,
    cni_conflist,
    containerd_argv,
    containerd_config,
    containerd_env,
    coredns_argv,
    corefile,
    kube_proxy_argv,
    kube_proxy_config,
    kubelet_argv,
    kubelet_config,
)
from hack.localcluster.processes import ManagedProcess
from hack.localcluster.rest import RestClient, is_ok, wait_until

CONTAINERD_NAMESPACE = "k8s.io"
_IMPORT_TIMEOUT_SECONDS = 600


class ImageImportError(RuntimeError):
    pass


class RealNode:
    def __init__(self, *, layout: NodeLayout, admin: RestClient) -> None:
        self.layout = layout
        self._admin = admin
        logs = layout.state_dir / "logs"
        self.containerd = ManagedProcess(
            name="containerd",
            argv=containerd_argv(layout),
            log_path=logs / "containerd.log",
            env=containerd_env(layout, dict(os.environ)),
        )
        self.kubelet = ManagedProcess(
            name="kubelet", argv=kubelet_argv(layout), log_path=logs / "kubelet.log"
        )
        self.kube_proxy = ManagedProcess(
            name="kube-proxy", argv=kube_proxy_argv(layout), log_path=logs / "kube-proxy.log"
        )
        self.coredns = ManagedProcess(
            name="coredns", argv=coredns_argv(layout), log_path=logs / "coredns.log"
        )
        #: Image archives already imported, by the digest of their manifest, with the names they carry.
        self._imported: dict[str, list[str]] = {}
        self.ready_in_seconds = 0.0

    @property
    def processes(self) -> Sequence[ManagedProcess]:
        return (self.containerd, self.kubelet, self.kube_proxy, self.coredns)

    @property
    def name(self) -> str:
        return NODE_NAME

    def start(self, *, pause_image: Path, timeout_seconds: float) -> None:
        """Starts the node's processes and returns once the node is Ready and cluster DNS answers."""
        began = time.monotonic()
        if self.layout.image_store is not None:
            imagestore.open_store(self.layout.image_store)
        self._write_files()
        self.containerd.start()
        wait_until(
            lambda: self._ctr("version").returncode == 0,
            what="containerd to serve its socket",
            timeout_seconds=timeout_seconds,
            check=self.containerd.check_alive,
        )
        if self.layout.image_store is not None:
            self._remove_stale_images()
        self.load_image(pause_image)
        self._install_dns_objects()
        for process in (self.kubelet, self.kube_proxy, self.coredns):
            process.start()
        proxy = RestClient(server=f"http://127.0.0.1:{self.layout.ports.proxy_healthz}", ca=None, client=None)
        dns = RestClient(server=f"http://127.0.0.1:{self.layout.ports.dns_ready}", ca=None, client=None)
        wait_until(
            lambda: self._node_ready() and is_ok(proxy, "/healthz") and is_ok(dns, "/ready"),
            what=f"node {NODE_NAME} Ready, kube-proxy synced and CoreDNS ready",
            timeout_seconds=timeout_seconds,
            check=self.check_alive,
        )
        self.ready_in_seconds = time.monotonic() - began

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def stop(self) -> None:
        """Stops the node's processes; containers and their mounts are NodeHost's to remove. With an image
        store, containerd first deletes every container it knows, and the store is marked clean only if that
        worked (see imagestore.py)."""
        for process in (self.coredns, self.kube_proxy, self.kubelet):
            process.stop(grace_seconds=5.0)
        forgotten = self.layout.image_store is not None and self._forget_containers()
        self.containerd.stop(grace_seconds=5.0)
        if forgotten and self.layout.image_store is not None:
            imagestore.mark_clean(self.layout.image_store)

    # -- images -------------------------------------------------------------------------------------------

    def load_image(self, archive: Path) -> list[str]:
        """Imports a docker-archive or OCI image tar into containerd's k8s.io namespace, where the kubelet finds
        it (pods then need imagePullPolicy IfNotPresent or Never). Returns the image names it carries, as
        containerd and the kubelet spell them (`foo:1` is `docker.io/library/foo:1`).

        Loading an archive this node has already loaded returns at once: the archive's manifest (which names
        every blob by digest) identifies it.
        """
        key, declared = _archive_identity(archive)
        if key in self._imported:
            return self._imported[key]
        names = [normalized_reference(name) for name in declared]
        if self.layout.image_store is not None and names and self._store_holds(names, key):
            self._imported[key] = names
            return names
        result = self._ctr("images", "import", str(archive), timeout=_IMPORT_TIMEOUT_SECONDS)
        if result.returncode != 0:
            raise ImageImportError(f"ctr images import {archive} failed: {result.stderr.strip()}")
        missing = set(names) - set(self.images())
        if not names or missing:
            raise ImageImportError(
                f"{archive} imported, but the node does not list {sorted(missing) or 'any name'} "
                f"(an archive needs RepoTags or io.containerd.image.name annotations); ctr said: {result.stdout}"
            )
        if self.layout.image_store is not None:
            for name in names:
                self._ctr_checked("images", "label", name, f"{imagestore.ARCHIVE_LABEL}={key}")
        self._imported[key] = names
        return names

    def _store_holds(self, names: list[str], key: str) -> bool:
        """Whether the image store holds every name, each imported to the end from the archive `key` names."""
        labels = self._image_labels()
        return all(labels.get(name, {}).get(imagestore.ARCHIVE_LABEL) == key for name in names)

    def _image_labels(self) -> dict[str, dict[str, str]]:
        """Each image's labels. `ctr images list` prints the name first and the labels (`k=v,...` or `-`)
        last."""
        listed: dict[str, dict[str, str]] = {}
        for line in self._ctr_checked("images", "list").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 2:
                continue
            pairs = [] if fields[-1] == "-" else fields[-1].split(",")
            listed[fields[0]] = dict(pair.partition("=")[::2] for pair in pairs)
        return listed

    def _remove_stale_images(self) -> None:
        stale = imagestore.stale_images(
            self.images(), archive_exists=lambda name, tag: (IMAGE_CACHE / f"{name}-{tag}.tar").exists()
        )
        if stale:
            self._ctr_checked("images", "remove", *stale)

    def _forget_containers(self) -> bool:
        """Deletes every task (killing its processes), container (with its snapshot) and sandbox containerd
        holds; True when none is left."""
        try:
            tasks = self._ctr_checked("tasks", "list", "--quiet").split()
            if tasks:
                self._ctr("tasks", "delete", "--force", *tasks, timeout=60.0)
            containers = self._ctr_checked("containers", "list", "--quiet").split()
            if containers:
                self._ctr("containers", "delete", *containers, timeout=60.0)
            sandboxes = _first_column(self._ctr_checked("sandboxes", "list"))
            if sandboxes:
                self._ctr("sandboxes", "remove", "--force", *sandboxes, timeout=60.0)
            left = self._ctr_checked("containers", "list", "--quiet").split()
            return not left and not _first_column(self._ctr_checked("sandboxes", "list"))
        except (ImageImportError, subprocess.TimeoutExpired):
            return False

    def images(self) -> list[str]:
        """The names of every image in the node's k8s.io namespace."""
        return self._ctr("images", "list", "--quiet").stdout.split()

    def _ctr(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.layout.binaries.ctr),
                f"--address={self.layout.containerd_socket}",
                f"--namespace={CONTAINERD_NAMESPACE}",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def _ctr_checked(self, *args: str) -> str:
        result = self._ctr(*args)
        if result.returncode != 0:
            raise ImageImportError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    # -- set-up -------------------------------------------------------------------------------------------

    def _write_files(self) -> None:
        layout = self.layout
        layout.containerd_dir.mkdir(parents=True, exist_ok=True)
        layout.containerd_config.write_text(containerd_config(layout))
        layout.cni_conf_dir.mkdir(parents=True, exist_ok=True)
        (layout.cni_conf_dir / "10-llmkube.conflist").write_text(json.dumps(cni_conflist(layout), indent=2))
        layout.kubelet_dir.mkdir(parents=True, exist_ok=True)
        layout.pod_logs_dir.mkdir(parents=True, exist_ok=True)
        layout.kubelet_config.write_text(yaml.safe_dump(kubelet_config(layout), sort_keys=False))
        layout.kube_proxy_config.write_text(yaml.safe_dump(kube_proxy_config(layout), sort_keys=False))
        layout.corefile.write_text(corefile(layout))

    def _install_dns_objects(self) -> None:
        for path, manifest in dns_manifests():
            self._admin.create(path, manifest)

    def _node_ready(self) -> bool:
        node = self._admin.call("GET", f"/api/v1/nodes/{NODE_NAME}")
        conditions = node.get("status", {}).get("conditions", [])
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        lifecycle_taints = [
            t
            for t in node.get("spec", {}).get("taints", []) or []
            if t["key"].startswith("node.kubernetes.io/")
        ]
        return ready and not lifecycle_taints


def dns_manifests() -> list[tuple[str, dict[str, Any]]]:
    """RBAC for CoreDNS's identity, and the `kube-dns` Service with an EndpointSlice for the host's CoreDNS."""
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    return [
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "system:coredns"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["endpoints", "services", "pods", "namespaces"],
                        "verbs": ["list", "watch"],
                    },
                    {
                        "apiGroups": ["discovery.k8s.io"],
                        "resources": ["endpointslices"],
                        "verbs": ["list", "watch"],
                    },
                ],
            },
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "system:coredns"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:coredns",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}
                ],
            },
        ),
        (
            "/api/v1/namespaces/kube-system/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kube-dns",
                    "namespace": "kube-system",
                    "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
                },
                "spec": {
                    "clusterIP": CLUSTER_DNS_IP,
                    "ports": [
                        {"name": name, "protocol": protocol, "port": DNS_PORT, "targetPort": DNS_PORT}
                        for name, protocol in ports
                    ],
                },
            },
        ),
        (
            "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices",
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kube-dns-host",
                    "namespace": "kube-system",
                    "labels": {
                        "kubernetes.io/service-name": "kube-dns",
                        "endpointslice.kubernetes.io/managed-by": "localcluster.llmkube.dev",
                    },
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}, "nodeName": NODE_NAME}],
                "ports": [{"name": name, "protocol": protocol, "port": DNS_PORT} for name, protocol in ports],
            },
        ),
    ]


def _first_column(listing: str) -> list[str]:
    """The first column of a `ctr ... list` table, without its header."""
    return [line.split()[0] for line in listing.splitlines()[1:] if line.strip()]


def _archive_identity(archive: Path) -> tuple[str, list[str]]:
    """The digest of the archive's manifest.json (docker-archive) or index.json (OCI layout), and the image
    names it declares."""
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name not in ("manifest.json", "index.json"):
                    continue
                extracted = tar.extractfile(member)
                if extracted is None:
                    break
                content = extracted.read()
                return hashlib.sha256(content).hexdigest(), _declared_names(name, json.loads(content))
    except (OSError, tarfile.TarError, json.JSONDecodeError) as error:
        raise ImageImportError(f"{archive} is not a readable image archive: {error}") from error
    raise ImageImportError(
        f"{archive} has neither manifest.json (docker-archive) nor index.json (OCI layout)"
    )


def _declared_names(member: str, document: Any) -> list[str]:
    if member == "manifest.json":
        return [tag for entry in document for tag in entry.get("RepoTags") or []]
    annotations = [entry.get("annotations") or {} for entry in document.get("manifests", [])]
    return [entry["io.containerd.image.name"] for entry in annotations if "io.containerd.image.name" in entry]


def normalized_reference(name: str) -> str:
    """An image name as containerd stores it: Docker Hub's implicit registry and `library/` spelt out, and
    `latest` when no tag or digest is given (what the kubelet looks up for a pod's `image`)."""
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if rest else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        name += ":latest"
    return name
