"""The embedded local Kubernetes control plane used by integration tests, e2e tests and the demo.

    with LocalCluster.start() as cluster:
        cluster.kubeconfig, cluster.server, cluster.add_node(nvidia_gpu_node("big", gpus=16))

    with LocalCluster.start(real_node=True) as cluster:  # plus a node that runs containers
        cluster.load_image(archive)

See docs/local-cluster.md.
"""

from hack.localcluster.audit import WRITE_VERBS, AuditLogUnavailableError
from hack.localcluster.base import ClusterBase, ClusterNotOwnedError, kubectl_binary
from hack.localcluster.cluster import HostStateChangedError, LocalCluster
from hack.localcluster.inventory import FakeNode, amd_gpu_node, cpu_node, nvidia_gpu_node
from hack.localcluster.nodeconfig import NODE_LABEL, NODE_NAME
from hack.localcluster.realnode import RealNode
from hack.localcluster.reused import REUSE_ENV, ReusedCluster

__all__ = [
    "NODE_LABEL",
    "NODE_NAME",
    "REUSE_ENV",
    "WRITE_VERBS",
    "AuditLogUnavailableError",
    "ClusterBase",
    "ClusterNotOwnedError",
    "FakeNode",
    "HostStateChangedError",
    "LocalCluster",
    "RealNode",
    "ReusedCluster",
    "amd_gpu_node",
    "cpu_node",
    "kubectl_binary",
    "nvidia_gpu_node",
]
