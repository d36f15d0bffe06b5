"""Command lines of the five components, and the ports and files they share.

Everything listens on 127.0.0.1 only, on ports picked free at start. The flags are the smallest set that gives
real semantics where tests look (RBAC, ServiceAccount tokens, the default controllers, an audit log of writes)
and skips what a single-host, single-replica control plane does not need (leader election, endpoint reconciling
for the loopback-advertised `kubernetes` Service).

With a real node, kube-apiserver listens on the node's address instead (pods cannot reach loopback), publishes
that address as the `kubernetes` Service's endpoint, authorizes kubelets with the Node authorizer, and reaches
the kubelet by its InternalIP with a client certificate of its own.
"""

from __future__ import annotations

import socket
from pathlib import Path

import attrs

from hack.localcluster import audit
from hack.localcluster.binaries import ControlPlaneBinaries
from hack.localcluster.certs import (
    APISERVER_KUBELET_CLIENT,
    FRONT_PROXY,
    SERVICE_CLUSTER_IP_RANGE,
    ClusterPki,
)
from hack.localcluster.portforward import KWOK_CRD_FLAG

LOOPBACK = "127.0.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
POD_CIDR = "10.244.0.0/16"


@attrs.frozen(kw_only=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick_free(cls) -> Ports:
        # Hold every socket until all are chosen so the six ports differ; the tiny race with other programs
        # between close and the component's bind is accepted.
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(6)]
        try:
            for sock in sockets:
                sock.bind((LOOPBACK, 0))
            numbers = [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        return cls(
            etcd_client=numbers[0],
            etcd_peer=numbers[1],
            apiserver=numbers[2],
            controller_manager=numbers[3],
            scheduler=numbers[4],
            kwok=numbers[5],
        )


@attrs.frozen(kw_only=True)
class ComponentKubeconfigs:
    controller_manager: Path
    scheduler: Path
    kwok: Path


@attrs.frozen(kw_only=True)
class ControlPlaneLayout:
    """What the command lines refer to: binaries, state directory, ports, certificates, kubeconfigs."""

    binaries: ControlPlaneBinaries
    state_dir: Path
    ports: Ports
    pki: ClusterPki
    kubeconfigs: ComponentKubeconfigs
    #: The address kube-apiserver listens on and advertises: loopback, or the real node's address.
    apiserver_address: str = LOOPBACK
    #: Whether a real node (a kubelet) joins the cluster.
    real_node: bool = False

    @property
    def etcd_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.etcd_client}"

    @property
    def server_url(self) -> str:
        return f"https://{self.apiserver_address}:{self.ports.apiserver}"


def etcd_argv(layout: ControlPlaneLayout) -> list[str]:
    peer = f"http://{LOOPBACK}:{layout.ports.etcd_peer}"
    return [
        str(layout.binaries.etcd),
        "--name=llmkube-local",
        f"--data-dir={layout.state_dir / 'etcd'}",
        f"--listen-client-urls={layout.etcd_url}",
        f"--advertise-client-urls={layout.etcd_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=llmkube-local={peer}",
        "--unsafe-no-fsync=true",  # throwaway data; fsync dominates start-up and write latency on shared disks
        "--log-level=warn",
    ]


def apiserver_argv(layout: ControlPlaneLayout) -> list[str]:
    pki = layout.pki
    return [
        str(layout.binaries.kube_apiserver),
        f"--etcd-servers={layout.etcd_url}",
        f"--bind-address={layout.apiserver_address}",
        f"--advertise-address={layout.apiserver_address}",
        f"--secure-port={layout.ports.apiserver}",
        f"--tls-cert-file={pki.serving.cert}",
        f"--tls-private-key-file={pki.serving.key}",
        f"--client-ca-file={pki.ca.cert}",
        f"--requestheader-client-ca-file={pki.ca.cert}",
        f"--requestheader-allowed-names={FRONT_PROXY.user}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.client(FRONT_PROXY).cert}",
        f"--proxy-client-key-file={pki.client(FRONT_PROXY).key}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.service_account_public_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--shutdown-watch-termination-grace-period=2s",
        "--allow-privileged=true",
        "--profiling=false",
        *audit.apiserver_flags(layout.state_dir),
        *(
            _real_node_apiserver_flags(pki)
            if layout.real_node
            else ["--authorization-mode=RBAC", "--endpoint-reconciler-type=none"]
        ),
    ]


def _real_node_apiserver_flags(pki: ClusterPki) -> list[str]:
    kubelet_client = pki.client(APISERVER_KUBELET_CLIENT)
    return [
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        # The default lease reconciler keeps the `kubernetes` Service's endpoint at the advertise address.
        "--endpoint-reconciler-type=lease",
        # The kubelet's node name resolves nowhere; its InternalIP is the node's address.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-client-certificate={kubelet_client.cert}",
        f"--kubelet-client-key={kubelet_client.key}",
        f"--kubelet-certificate-authority={pki.ca.cert}",
    ]


def controller_manager_argv(layout: ControlPlaneLayout) -> list[str]:
    pki = layout.pki
    kubeconfig = layout.kubeconfigs.controller_manager
    return [
        str(layout.binaries.kube_controller_manager),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={layout.ports.controller_manager}",
        "--leader-elect=false",
        # Each controller acts as its own ServiceAccount, as in a kubeadm cluster, so RBAC gaps show up here.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca.cert}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        "--controllers=*",
        "--profiling=false",
    ]


def scheduler_argv(layout: ControlPlaneLayout) -> list[str]:
    kubeconfig = layout.kubeconfigs.scheduler
    return [
        str(layout.binaries.kube_scheduler),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={layout.ports.scheduler}",
        "--leader-elect=false",
        "--profiling=false",
    ]


#: Nodes carrying this annotation are simulated by kwok; any other node is left to a (real) kubelet.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


def kwok_argv(layout: ControlPlaneLayout) -> list[str]:
    key, value = KWOK_NODE_ANNOTATION
    return [
        str(layout.binaries.kwok),
        f"--kubeconfig={layout.kubeconfigs.kwok}",
        f"--config={layout.binaries.kwok_stages}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={key}={value}",
        f"--server-address={LOOPBACK}:{layout.ports.kwok}",
        # Nodes advertise kwok's server as their kubelet, so `pods/portforward` reaches it (see portforward.py).
        f"--node-port={layout.ports.kwok}",
        KWOK_CRD_FLAG,
        f"--node-ip={LOOPBACK}",
        f"--cidr={POD_CIDR}",
        # Without a lease kwok renews node status only every ~10 min (the heartbeat stage's delay), so the node
        # lifecycle controller marks nodes Unknown (and their pods NotReady) about once a minute.
        "--node-lease-duration-seconds=40",
    ]
