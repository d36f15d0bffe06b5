from __future__ import annotations

from typing import Any

from api.v1alpha1.well_known import OWNER_ANNOTATION, SERVICE_LABEL
from controller.builders.labels import label_value, resource_name
from controller.reconcilers.inferenceservice.watch import (
    BY_MODEL_REF,
    BY_SERVICE_LABEL,
    FIRST_ROLLOUT_PRIORITY,
    SpecOrHostServingChanged,
    model_ref_index,
    monitoring_services,
    owner_of_dcgm_monitor,
    rollouts_first,
    service_label_index,
    service_of_pod,
    services_of_model,
)
from controller.reconcilers.metrics import gpus_requested
from controller.runtime.request import Request
from controller.runtime.store import Store

LONG_NAME = "a-very-long-inference-service-name-that-exceeds-sixty-three-characters.v2"


def isvc(name: str, *, model: str = "llama-3.2-3b", namespace: str = "ns", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {"modelRef": {"name": model}, **spec},
    }


def services(*objs: dict[str, Any]) -> Store:
    store = Store()
    store.add_index(BY_MODEL_REF, model_ref_index)
    store.add_index(BY_SERVICE_LABEL, service_label_index)
    for obj in objs:
        store.upsert(obj)
    return store


def test_a_model_wakes_the_services_that_reference_it_in_its_namespace() -> None:
    store = services(isvc("a"), isvc("b", model="other"), isvc("c", namespace="elsewhere"))
    model = {"metadata": {"name": "llama-3.2-3b", "namespace": "ns"}}
    assert services_of_model(store)(model) == [Request(namespace="ns", name="a")]


def test_a_pod_with_a_hashed_service_label_maps_back_to_its_service() -> None:
    store = services(isvc(LONG_NAME))
    pod = {"metadata": {"namespace": "ns", "labels": {SERVICE_LABEL: label_value(LONG_NAME)}}}
    assert label_value(LONG_NAME) != LONG_NAME
    assert service_of_pod(store)(pod) == [Request(namespace="ns", name=LONG_NAME)]


def test_a_service_without_a_deployment_is_queued_ahead_of_one_that_has_its_deployment() -> None:
    deployments = Store()
    deployments.upsert({"metadata": {"name": resource_name(LONG_NAME), "namespace": "ns"}})
    priority_of = rollouts_first(deployments)

    assert priority_of(Request(namespace="ns", name="new")) == FIRST_ROLLOUT_PRIORITY
    assert priority_of(Request(namespace="ns", name=LONG_NAME)) == 0
    assert priority_of(Request(namespace="elsewhere", name=LONG_NAME)) == FIRST_ROLLOUT_PRIORITY
    assert FIRST_ROLLOUT_PRIORITY > 0


def test_a_dcgm_monitor_maps_to_its_owner_by_annotation() -> None:
    monitor = {
        "metadata": {"namespace": "gpu-operator", "annotations": {OWNER_ANNOTATION: f"ns/{LONG_NAME}"}}
    }
    assert owner_of_dcgm_monitor(monitor) == [Request(namespace="ns", name=LONG_NAME)]


def test_the_servicemonitor_crd_wakes_only_services_asking_for_monitoring() -> None:
    store = services(isvc("a", monitoring={"enabled": True}), isvc("b"))
    assert monitoring_services(store)({}) == [Request(namespace="ns", name="a")]


def test_status_writes_of_our_own_do_not_wake_the_service() -> None:
    old = isvc("a")
    new = {**old, "status": {"phase": "Ready"}}
    assert not SpecOrHostServingChanged().update(old, new)


def test_the_host_agents_condition_wakes_the_service() -> None:
    old = isvc("a")
    serving = {"type": "HostServing", "status": "True", "reason": "Serving", "message": ""}
    new = {**old, "status": {"conditions": [serving]}}
    assert SpecOrHostServingChanged().update(old, new)


def test_a_spec_change_wakes_the_service() -> None:
    old = isvc("a")
    new = {**old, "metadata": {**old["metadata"], "generation": 2}}
    assert SpecOrHostServingChanged().update(old, new)


def test_gpus_requested_multiplies_gpu_count_by_replicas() -> None:
    obj = {"spec": {"replicas": 3, "accelerator": {"type": "nvidia"}}, "status": {"gpuCount": 2}}
    assert gpus_requested(obj) == 6


def test_host_served_services_request_no_cluster_gpu() -> None:
    obj = {"spec": {"replicas": 1, "accelerator": {"type": "metal"}}, "status": {"gpuCount": 1}}
    assert gpus_requested(obj) == 0
