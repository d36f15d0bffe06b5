"""No reader of the controllers' caches looks at a field the cache transforms drop.

Each test runs the readers of one kind (builders, index functions, event mappers, the handoff check) on a full
object shaped as the API server sends it, then on the transformed copy the cache would hold, and expects the same
answers. The full objects carry everything a reader could be tempted by: managedFields, the kubectl annotation,
a pod spec, a CRD schema.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import APPLIED_HASH_ANNOTATION
from controller.builders.deployment import desired_deployment
from controller.builders.fetch_outcome import fetch_termination_message, newest_pod
from controller.builders.inferenceservice_status import service_verdict
from controller.builders.labels import selector_labels
from controller.builders.replicas_handoff import applies_replicas, needs_replicas_handoff, replicas_handoff
from controller.builders.serving_problems import pod_problems, rollout_problem
from controller.config import ControllerConfig
from controller.kube import Resource
from controller.kube.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    DEPLOYMENTS,
    INFERENCE_SERVICES,
    JOBS,
    MODELS,
    PODS,
    ROLES,
    SERVICES,
)
from controller.reconcilers.apply import needs_apply, with_applied_hash
from controller.reconcilers.cached_fields import LAST_APPLIED_ANNOTATION, cached_fields
from controller.reconcilers.inferenceservice.crd_gated import crd_established
from controller.reconcilers.inferenceservice.watch import (
    BY_SERVICE_LABEL,
    pod_service_index,
    service_label_index,
    service_of_pod,
)
from controller.reconcilers.model.watch import model_of_pod
from controller.runtime.indexer import controller_uid, owner_uids
from controller.runtime.store import Store
from tests.unit.builders.conftest import isvc_from, model_from, ready

MANAGER = "llmkube-controller"
LONG_TIME = "2026-01-01T00:00:00Z"


def fields_v1(value: Any) -> Any:
    """A managedFields `fieldsV1` tree for `value`, as the API server writes one."""
    if isinstance(value, dict):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    if isinstance(value, list):
        return {f"v:{item!r}"[:40]: {} for item in value}
    return {}


def managed(manager: str, body: Any, *, operation: str = "Apply", subresource: str | None = None) -> Any:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "time": LONG_TIME,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(body),
    }
    return {**entry, "subresource": subresource} if subresource else entry


def served(obj: dict[str, Any], *, uid: str, managers: list[Any]) -> dict[str, Any]:
    """`obj` with what the API server adds: identity, bookkeeping, a kubectl annotation."""
    full = copy.deepcopy(obj)
    meta = full.setdefault("metadata", {})
    meta.update(
        uid=uid,
        resourceVersion="4242",
        generation=2,
        creationTimestamp=LONG_TIME,
        selfLink="/ignored",
        managedFields=managers,
    )
    meta.setdefault("annotations", {})[LAST_APPLIED_ANNOTATION] = '{"a": "copy of the object"}'
    return full


@pytest.fixture
def isvc() -> InferenceService:
    return isvc_from({})


@pytest.fixture
def model() -> Model:
    return ready(model_from({"source": {"url": "https://models.example/tiny.gguf"}}))


def owned_by(obj: dict[str, Any], *, kind: str, name: str, uid: str) -> dict[str, Any]:
    ref = {"apiVersion": "x/v1", "kind": kind, "name": name, "uid": uid, "controller": True}
    obj["metadata"]["ownerReferences"] = [ref]
    return obj


def live_deployment(isvc: InferenceService, model: Model, *, replicas_owned: bool = True) -> dict[str, Any]:
    body = with_applied_hash(desired_deployment(isvc=isvc, model=model, config=ControllerConfig()))
    applied = (
        body
        if replicas_owned
        else {**body, "spec": {k: v for k, v in body["spec"].items() if k != "replicas"}}
    )
    full = served(
        body,
        uid="deploy-uid",
        managers=[
            managed(MANAGER, applied),
            managed(
                "kube-controller-manager",
                {"status": {"replicas": 1}},
                operation="Update",
                subresource="status",
            ),
        ],
    )
    full = owned_by(full, kind="InferenceService", name="chat", uid="isvc-uid")
    full["spec"]["replicas"] = 2
    full["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "too slow",
            }
        ],
    }
    return full


def live_pod(isvc: InferenceService, model: Model, *, name: str, status: dict[str, Any]) -> dict[str, Any]:
    template = desired_deployment(isvc=isvc, model=model, config=ControllerConfig())["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": name, "namespace": "team-a"},
    }
    pod["spec"] = {**template["spec"], "nodeName": "node-1"}
    pod["status"] = status
    pod = served(
        pod, uid=f"{name}-uid", managers=[managed("kubelet", {"status": status}, operation="Update")]
    )
    return owned_by(pod, kind="ReplicaSet", name="chat-abc", uid="rs-uid")


CRASHING = {
    "phase": "Running",
    "containerStatuses": [
        {
            "name": "llama-server",
            "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "message": "bad model"}},
        }
    ],
}
UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "Insufficient nvidia.com/gpu",
        }
    ],
}


def trimmed(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    return cached_fields(resource)(copy.deepcopy(obj))


def test_the_verdict_and_problems_read_nothing_the_deployment_and_pod_transforms_drop(
    isvc: InferenceService, model: Model
) -> None:
    deployment = live_deployment(isvc, model)
    pods = [
        live_pod(isvc, model, name="chat-1", status=CRASHING),
        live_pod(isvc, model, name="chat-2", status=UNSCHEDULABLE),
    ]

    def decide(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> Any:
        verdict = service_verdict(
            model_name="tiny", model=model, deployment=deployment, pods=pods, desired_replicas=2
        )
        return verdict, pod_problems(pods), rollout_problem(deployment)

    full = decide(deployment, pods)
    assert full[1]
    assert full[2] is not None
    assert decide(trimmed(DEPLOYMENTS, deployment), [trimmed(PODS, p) for p in pods]) == full


@pytest.mark.parametrize("replicas_owned", [True, False])
def test_the_replicas_handoff_reads_nothing_the_deployment_transform_drops(
    isvc: InferenceService, model: Model, replicas_owned: bool
) -> None:
    current = live_deployment(isvc, model, replicas_owned=replicas_owned)
    autoscaled = {**current, "spec": {k: v for k, v in current["spec"].items() if k != "replicas"}}
    cached = trimmed(DEPLOYMENTS, current)

    def decide(obj: dict[str, Any]) -> Any:
        return (
            applies_replicas(obj, manager=MANAGER),
            applies_replicas(obj, manager="kube-controller-manager"),
            needs_replicas_handoff(desired=autoscaled, current=obj, manager=MANAGER),
            replicas_handoff(obj),
        )

    assert decide(current)[0] is replicas_owned
    assert decide(cached) == decide(current)


def test_the_write_check_and_ownership_read_nothing_the_transforms_drop(
    isvc: InferenceService, model: Model
) -> None:
    desired = desired_deployment(isvc=isvc, model=model, config=ControllerConfig())
    current = live_deployment(isvc, model)
    cached = trimmed(DEPLOYMENTS, current)
    assert APPLIED_HASH_ANNOTATION in cached["metadata"]["annotations"]
    assert needs_apply(desired, cached) == needs_apply(desired, current)
    for index in (owner_uids, controller_uid):
        assert index(cached) == index(current)


def test_pod_indexes_and_mappers_read_nothing_the_pod_transform_drops(
    isvc: InferenceService, model: Model
) -> None:
    # Owned by a Job, so that the download mapper finds its Model too.
    pod = owned_by(
        live_pod(isvc, model, name="chat-1", status=CRASHING), kind="Job", name="chat-abc", uid="j"
    )
    services = Store()
    services.add_index(BY_SERVICE_LABEL, service_label_index)
    services.upsert({"metadata": {"name": "chat", "namespace": "team-a"}})
    jobs = Store()
    jobs.upsert(
        owned_by(
            {"metadata": {"name": "chat-abc", "namespace": "team-a"}}, kind="Model", name="tiny", uid="m"
        )
    )
    cached = trimmed(PODS, pod)
    assert pod["metadata"]["labels"].items() >= selector_labels("chat").items()
    readers = (pod_service_index, service_of_pod(services), model_of_pod(jobs))
    assert all(read(pod) for read in readers)  # the sample is found by each of them
    for read in readers:
        assert read(cached) == read(pod)


def test_download_results_read_nothing_the_pod_transform_drops() -> None:
    status = {
        "phase": "Failed",
        "containerStatuses": [{"name": "fetch", "state": {"terminated": {"message": "{}"}}}],
    }
    pods = [
        served(
            {"kind": "Pod", "metadata": {"name": n, "namespace": "ns"}, "spec": {"x": 1}, "status": status},
            uid=n,
            managers=[],
        )
        for n in ("a", "b")
    ]
    pods[1]["metadata"]["creationTimestamp"] = "2026-02-01T00:00:00Z"
    cached = [trimmed(PODS, p) for p in pods]
    assert fetch_termination_message(cached[0]) == fetch_termination_message(pods[0]) == "{}"
    assert newest_pod(cached) == trimmed(PODS, pods[1])


def test_the_crd_watch_reads_nothing_the_crd_transform_drops() -> None:
    crd = served(
        {
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
            "spec": {"versions": [{"schema": {"openAPIV3Schema": {"type": "object"}}}]},
            "status": {"conditions": [{"type": "Established", "status": "True"}], "storedVersions": ["v1"]},
        },
        uid="crd",
        managers=[],
    )
    cached = trimmed(CUSTOM_RESOURCE_DEFINITIONS, crd)
    assert "spec" not in cached
    assert crd_established(cached) is crd_established(crd) is True


@pytest.mark.parametrize("resource", [INFERENCE_SERVICES, MODELS])
def test_our_kinds_read_the_same_after_the_transform(resource: Resource) -> None:
    kind = InferenceService if resource is INFERENCE_SERVICES else Model
    spec = (
        {"modelRef": {"name": "tiny"}}
        if kind is InferenceService
        else {"source": {"url": "https://x/y.gguf"}}
    )
    body = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": "a", "namespace": "ns"},
    }
    full = served(
        {**body, "spec": spec, "status": {"phase": "Ready"}}, uid="u", managers=[managed(MANAGER, spec)]
    )
    cached = trimmed(resource, full)
    without_kubectl = copy.deepcopy(full)
    del without_kubectl["metadata"]["annotations"]
    assert from_wire(cached, kind) == from_wire(without_kubectl, kind)
    assert cached["spec"] == full["spec"]
    assert cached["status"] == full["status"]


@pytest.mark.parametrize("resource", [SERVICES, JOBS, ROLES, DEPLOYMENTS, PODS])
def test_every_kind_drops_the_bookkeeping_and_keeps_the_rest_of_the_metadata(resource: Resource) -> None:
    full = served(
        {
            "metadata": {"name": "a", "namespace": "ns", "labels": {"x": "1"}, "annotations": {"keep": "me"}},
            "rules": [],
        },
        uid="u",
        managers=[managed("someone", {"spec": {"x": 1}})],
    )
    meta = trimmed(resource, full)["metadata"]
    assert "managedFields" not in meta
    assert "selfLink" not in meta
    assert meta["annotations"] == {"keep": "me"}
    assert {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "labels")} == {
        "name": "a",
        "namespace": "ns",
        "uid": "u",
        "resourceVersion": "4242",
        "labels": {"x": "1"},
    }
