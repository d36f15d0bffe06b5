"""The judgements `llmkube init` prints, from API objects shaped as a real apiserver returns them."""

from __future__ import annotations

from typing import Any

from llmkube.cli.cluster_checks import (
    Level,
    api_version,
    controller,
    default_storage_class,
    deployment_ready,
    gpu_nodes,
    llmkube_crds,
    prometheus_operator,
)
from llmkube.cli.operator_install import pod_problems


def crd(name: str, *, established: bool = True) -> dict[str, Any]:
    status = "True" if established else "False"
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Established", "status": status}]}}


def deployment(*, available: int, image: str = "ghcr.io/llmkube/llmkube:0.1.0") -> dict[str, Any]:
    return {
        "metadata": {"name": "llmkube-controller-manager", "generation": 2},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": image}]}}},
        "status": {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": available},
    }


def node(name: str, *, allocatable: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "status": {"allocatable": allocatable}}


def test_a_current_apiserver_is_ok_and_names_its_version() -> None:
    finding = api_version({"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
    assert finding.level is Level.ok
    assert "v1.37.2" in finding.message


def test_an_old_apiserver_is_a_problem_with_the_fix() -> None:
    finding = api_version({"major": "1", "minor": "27+", "gitVersion": "v1.27.3-eks"})
    assert finding.level is Level.problem
    assert "1.29 or later" in finding.fix


def test_missing_crds_are_named() -> None:
    finding = llmkube_crds([crd("models.inference.llmkube.dev")])
    assert finding.level is Level.problem
    assert "inferenceservices.inference.llmkube.dev" in finding.message


def test_established_crds_are_ok() -> None:
    names = ("models.inference.llmkube.dev", "inferenceservices.inference.llmkube.dev")
    assert llmkube_crds([crd(n) for n in names]).level is Level.ok


def test_rolled_out_deployment_is_ready_and_a_lagging_one_is_not() -> None:
    assert deployment_ready(deployment(available=1))
    assert not deployment_ready(deployment(available=0))


def test_absent_controller_is_a_problem() -> None:
    assert controller(None).level is Level.problem


def test_controller_from_another_version_is_a_warning_that_init_upgrades() -> None:
    finding = controller(deployment(available=1, image="x:0.0.9"), installed_image="x:0.1.0")
    assert finding.level is Level.warning
    assert finding.fix == "llmkube init upgrades it"


def test_gpu_nodes_are_described_with_model_and_memory() -> None:
    labels = {"nvidia.com/gpu.product": "NVIDIA-L4", "nvidia.com/gpu.memory": "23034"}
    finding = gpu_nodes([node("gpu-1", allocatable={"nvidia.com/gpu": "2"}, labels=labels)])
    assert finding.level is Level.ok
    assert finding.message == "gpu-1 (2 x NVIDIA, NVIDIA-L4, 22 GiB each)"


def test_gpu_nodes_without_discovery_labels_are_a_warning() -> None:
    finding = gpu_nodes([node("gpu-1", allocatable={"nvidia.com/gpu": "1"})])
    assert finding.level is Level.warning
    assert "GPU feature discovery" in finding.fix


def test_a_cluster_without_gpus_warns_that_serving_is_cpu_only() -> None:
    finding = gpu_nodes([node("cpu-1", allocatable={"cpu": "8", "nvidia.com/gpu": "0"})])
    assert finding.level is Level.warning
    assert "CPU only" in finding.message


def test_default_storage_class_is_found_by_annotation() -> None:
    classes = [
        {"metadata": {"name": "slow"}},
        {
            "metadata": {
                "name": "fast",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            }
        },
    ]
    finding = default_storage_class(classes)
    assert (finding.level, finding.message) == (Level.ok, "fast")


def test_no_default_storage_class_is_a_warning() -> None:
    assert default_storage_class([{"metadata": {"name": "slow"}}]).level is Level.warning


def test_prometheus_operator_crds_lead_to_the_monitoring_manifests() -> None:
    crds = [crd("servicemonitors.monitoring.coreos.com"), crd("prometheusrules.monitoring.coreos.com")]
    finding = prometheus_operator(crds)
    assert finding.level is Level.ok
    assert "config/prometheus" in finding.fix
    assert prometheus_operator([]).level is Level.warning


def test_pod_problems_say_why_the_controller_is_not_ready() -> None:
    pods = [
        {
            "metadata": {"name": "p1"},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}}
                ],
            },
        },
        {
            "metadata": {"name": "p2"},
            "status": {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}
                ],
            },
        },
    ]
    assert pod_problems(pods) == [
        "pod p1: ImagePullBackOff: pull access denied",
        "pod p2 unschedulable: 0/3 nodes are available",
    ]
