"""The fake hardware: kwok-managed nodes (CPU, NVIDIA and AMD GPU) and a pool of pre-created volumes.

Nodes are created with their capacity in `status`; kwok's node stage keeps that capacity and adds the Ready
condition, addresses and a lease, so the scheduler treats them like kubelet-backed nodes. GPU nodes carry the
labels and taint that the NVIDIA and AMD device plugins and GPU operators put on real nodes, so placement
logic is exercised as it would be in production.

There is no dynamic provisioner: a default StorageClass with `kubernetes.io/no-provisioner` and Immediate
binding lets the PV binder match PVCs against the pool, smallest fitting volume first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from hack.localcluster.components import KWOK_NODE_ANNOTATION

NVIDIA_GPU = "nvidia.com/gpu"
AMD_GPU = "amd.com/gpu"
GPU_TAINT = {"key": NVIDIA_GPU, "value": "present", "effect": "NoSchedule"}
AMD_GPU_TAINT = {"key": AMD_GPU, "value": "present", "effect": "NoSchedule"}
STORAGE_CLASS = "local-hostpath"
ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"]


@attrs.frozen(kw_only=True)
class FakeNode:
    name: str
    cpu: str = "32"
    memory: str = "256Gi"
    pods: str = "110"
    extended_resources: Mapping[str, str] = attrs.field(factory=dict)
    labels: Mapping[str, str] = attrs.field(factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()


def cpu_node(name: str) -> FakeNode:
    return FakeNode(name=name)


def nvidia_gpu_node(
    name: str, *, gpus: int = 8, product: str = "NVIDIA-H100-80GB-HBM3", memory_mib: int = 81559
) -> FakeNode:
    return FakeNode(
        name=name,
        cpu="96",
        memory="1024Gi",
        extended_resources={NVIDIA_GPU: str(gpus)},
        labels={
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.memory": str(memory_mib),
            "nvidia.com/cuda.driver.major": "570",
        },
        taints=(GPU_TAINT,),
    )


def amd_gpu_node(name: str, *, gpus: int = 8, product: str = "AMD_Instinct_MI300X") -> FakeNode:
    return FakeNode(
        name=name,
        cpu="96",
        memory="1024Gi",
        extended_resources={AMD_GPU: str(gpus)},
        labels={
            "amd.com/gpu.present": "true",
            "amd.com/gpu.count": str(gpus),
            "amd.com/gpu.product-name": product,
        },
        taints=(AMD_GPU_TAINT,),
    )


DEFAULT_NODES = (
    cpu_node("cpu-node-1"),
    cpu_node("cpu-node-2"),
    nvidia_gpu_node("gpu-node-1"),
    nvidia_gpu_node("gpu-node-2"),
    amd_gpu_node("amd-gpu-node-1"),
)

#: The fake nodes beside a real node: only the GPU ones, so any pod without a GPU lands on the real node.
REAL_NODE_COMPANIONS = tuple(node for node in DEFAULT_NODES if node.taints)

#: Sizes of the volume pool: enough claims for a test session at each order of magnitude.
DEFAULT_VOLUME_POOL = (("10Gi", 8), ("100Gi", 8), ("1Ti", 8))


def node_manifest(node: FakeNode) -> dict[str, Any]:
    annotation_key, annotation_value = KWOK_NODE_ANNOTATION
    capacity = {
        "cpu": node.cpu,
        "memory": node.memory,
        "pods": node.pods,
        "ephemeral-storage": "1Ti",
        **node.extended_resources,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "annotations": {annotation_key: annotation_value},
            "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **node.labels,
            },
        },
        "spec": {"taints": [dict(taint) for taint in node.taints]},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def storage_class_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Retain",
    }


def persistent_volume_manifest(*, name: str, capacity: str, host_path: Path) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"llmkube.dev/local-pool": "true"}},
        "spec": {
            "capacity": {"storage": capacity},
            "accessModes": ACCESS_MODES,
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(host_path), "type": "DirectoryOrCreate"},
        },
    }
