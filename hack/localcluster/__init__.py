"""The embedded local Kubernetes control plane used by integration tests, e2e tests and the demo.

    with LocalCluster.start() as cluster:
        cluster.kubeconfig, cluster.server, cluster.add_node(nvidia_gpu_node("big", gpus=16))

See docs/local-cluster.md.
"""

from hack.localcluster.audit import WRITE_VERBS, AuditLogUnavailableError
from hack.localcluster.base import ClusterBase, ClusterNotOwnedError, kubectl_binary
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.inventory import FakeNode, amd_gpu_node, cpu_node, nvidia_gpu_node
from hack.localcluster.reused import REUSE_ENV, ReusedCluster

__all__ = [
    "REUSE_ENV",
    "WRITE_VERBS",
    "AuditLogUnavailableError",
    "ClusterBase",
    "ClusterNotOwnedError",
    "FakeNode",
    "LocalCluster",
    "ReusedCluster",
    "amd_gpu_node",
    "cpu_node",
    "kubectl_binary",
    "nvidia_gpu_node",
]
