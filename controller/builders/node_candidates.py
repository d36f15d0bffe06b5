"""The nodes a service's pods may land on, and what each offers them: GPUs, memory per GPU, host memory.

The scheduler has the last word; this is the part of its decision the controller can repeat from the Node cache
to plan before any pod exists: a node qualifies when it is schedulable, carries every label of the service's
`nodeSelector`, has every NoSchedule/NoExecute taint tolerated by the pod's tolerations (the user's merged with the
GPU toleration, as the Deployment gets them), and, for a GPU service, has the accelerator's device plugin resource.
`affinity` is not evaluated: a service that narrows its nodes with affinity alone is planned against all nodes its
selector and tolerations allow, so its Fits condition may name a larger GPU than the pods can reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from api.objects import ObjectView, labels_of, name_of
from controller.builders.gpu_memory import GpuMemory, node_gpu_memory
from controller.builders.model_cache import quantity_value

#: Taint effects that keep a pod off a node (PreferNoSchedule only steers).
_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


@attrs.frozen(kw_only=True)
class CandidateNode:
    name: str
    #: Allocatable GPUs of the service's accelerator (0 for CPU services).
    gpus: int
    #: Memory of one GPU, None when no label or override says.
    gpu_memory: GpuMemory | None
    #: Allocatable host memory, None when the node does not report it.
    memory_bytes: int | None


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Whether one of `tolerations` (wire form) tolerates `taint`, by core/v1's matching rules."""
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key = toleration.get("key")
        operator = toleration.get("operator") or "Equal"
        if not key:
            # An empty key with Exists tolerates every taint; with Equal it matches nothing.
            if operator == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def candidate_nodes(
    nodes: Iterable[ObjectView],
    *,
    node_selector: Mapping[str, str] | None,
    tolerations: Sequence[Mapping[str, Any]],
    gpu_resource: str | None,
    gpu_memory_overrides: Mapping[str, int] | None = None,
) -> list[CandidateNode]:
    """The nodes a pod with this selector and these tolerations may land on; with `gpu_resource`, GPU nodes only."""
    found: list[CandidateNode] = []
    for node in nodes:
        spec = node.get("spec") or {}
        if spec.get("unschedulable"):
            continue
        labels = labels_of(node)
        if any(labels.get(key) != value for key, value in (node_selector or {}).items()):
            continue
        taints = [t for t in spec.get("taints") or () if t.get("effect") in _BLOCKING_EFFECTS]
        if not all(tolerates(tolerations, taint) for taint in taints):
            continue
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        gpus = _count(allocatable.get(gpu_resource)) if gpu_resource else 0
        if gpu_resource and gpus == 0:
            continue
        found.append(
            CandidateNode(
                name=name_of(node),
                gpus=gpus,
                gpu_memory=node_gpu_memory(labels, overrides=gpu_memory_overrides) if gpu_resource else None,
                memory_bytes=_bytes(allocatable.get("memory")),
            )
        )
    return found


def _count(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _bytes(value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(quantity_value(str(value)))
    except ValueError:
        return None
