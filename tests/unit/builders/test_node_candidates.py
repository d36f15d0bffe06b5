from __future__ import annotations

from typing import Any

from controller.builders.node_candidates import candidate_nodes, tolerates

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def node(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    gpus: int = 0,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    allocatable = {"cpu": "32", "memory": "256Gi"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": allocatable},
    }


def gpu_node(name: str, *, memory_mib: int, gpus: int = 8, **labels: str) -> dict[str, Any]:
    return node(
        name,
        labels={"nvidia.com/gpu.memory": str(memory_mib), **labels},
        gpus=gpus,
        taints=[GPU_TAINT],
    )


def names(nodes: list[dict[str, Any]], **options: Any) -> list[str]:
    return [found.name for found in candidate_nodes(nodes, **options)]


def test_an_exists_toleration_with_the_taints_key_tolerates_any_value() -> None:
    assert tolerates([GPU_TOLERATION], GPU_TAINT)


def test_an_equal_toleration_needs_the_same_value() -> None:
    toleration = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "other"}
    assert not tolerates([toleration], GPU_TAINT)
    assert tolerates([{**toleration, "value": "present"}], GPU_TAINT)


def test_an_empty_key_with_exists_tolerates_every_taint() -> None:
    assert tolerates([{"operator": "Exists"}], GPU_TAINT)


def test_a_toleration_for_another_effect_does_not_tolerate() -> None:
    assert not tolerates([{**GPU_TOLERATION, "effect": "NoExecute"}], GPU_TAINT)


def test_gpu_services_see_only_nodes_with_their_gpus_whose_taint_they_tolerate() -> None:
    nodes = [node("cpu"), gpu_node("small", memory_mib=24_576), gpu_node("big", memory_mib=81_920)]

    found = candidate_nodes(
        nodes, node_selector=None, tolerations=[GPU_TOLERATION], gpu_resource="nvidia.com/gpu"
    )

    assert [(n.name, n.gpus, n.gpu_memory and n.gpu_memory.bytes) for n in found] == [
        ("small", 8, 24_576 << 20),
        ("big", 8, 81_920 << 20),
    ]


def test_the_node_selector_narrows_the_nodes() -> None:
    nodes = [
        gpu_node("small", memory_mib=24_576, pool="small"),
        gpu_node("big", memory_mib=81_920, pool="big"),
    ]

    assert names(
        nodes, node_selector={"pool": "big"}, tolerations=[GPU_TOLERATION], gpu_resource="nvidia.com/gpu"
    ) == ["big"]


def test_cpu_services_do_not_land_on_tainted_gpu_nodes() -> None:
    nodes = [node("cpu"), gpu_node("gpu", memory_mib=24_576)]

    assert names(nodes, node_selector=None, tolerations=[], gpu_resource=None) == ["cpu"]


def test_cordoned_nodes_are_not_candidates() -> None:
    assert (
        names([node("cordoned", unschedulable=True)], node_selector=None, tolerations=[], gpu_resource=None)
        == []
    )


def test_an_override_names_the_memory_of_an_unlabelled_product() -> None:
    unlabelled = node("gpu", labels={"nvidia.com/gpu.product": "NVIDIA-Custom"}, gpus=2)

    [found] = candidate_nodes(
        [unlabelled],
        node_selector=None,
        tolerations=[],
        gpu_resource="nvidia.com/gpu",
        gpu_memory_overrides={"NVIDIA-Custom": 40 << 30},
    )

    assert found.gpu_memory is not None
    assert found.gpu_memory.bytes == 40 << 30
