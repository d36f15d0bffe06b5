"""The serving Deployment: one llama-server container per pod, reading the model from the cache claim.

Choices worth knowing:

- Placement (`tolerations`, `nodeSelector`, `affinity`, `priorityClassName`) is passed through for every
  service, CPU ones included; a GPU service also tolerates the usual GPU taint (`nvidia.com/gpu` or
  `amd.com/gpu`, operator Exists, NoSchedule), merged with the user's without duplicates.
- The model is mounted read-only with `subPath: <cacheKey>` at the same path the fetcher wrote it to, so a pod sees
  only its own model and `Model.status.path` is the path inside the pod.
- The startup probe's budget grows with the file (120 s + 15 s per GiB, at most an hour): a 40 GiB model read from
  network storage takes minutes before `/health` answers 200, and a fixed budget would kill it in a loop.
- Rolling updates use maxUnavailable 0 / maxSurge 1, so the ready count never drops during a change. On a GPU
  cluster with no spare GPU the surge pod waits for one (status says WaitingForGPU) while the old pod keeps
  serving; users who prefer a brief outage over a spare GPU can scale to zero and back.
- `replicas` is left out when autoscaling is set, so the HPA owns it and an apply never resets its decision.
  Dropping it from an apply that owned it would reset it to 1, so the reconciler hands it over first (see
  controller.builders.replicas_handoff).
- Only `args` are set: the server images' entrypoint is llama-server, and custom images keep theirs.
- `apiKeySecretRef` mounts the key as a file for `--api-key-file` (see controller.builders.api_key); the probes
  use /health, which llama-server answers without a key.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.converter import to_wire
from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceService
from api.v1alpha1.meta import Toleration
from api.v1alpha1.model import Model
from controller.builders.api_key import API_KEY_FILE, api_key_volume
from controller.builders.labels import (
    object_meta,
    object_name,
    object_namespace,
    resource_name,
    selector_labels,
    service_labels,
)
from controller.builders.llama_args import llama_server_args, serving_shape
from controller.builders.model_cache import cache_dir, cached_model_path
from controller.builders.security import container_security_context, pod_security_context, scratch_volume
from controller.config import ControllerConfig

CONTAINER_NAME = "llama-server"
#: Extended resource names of the GPU device plugins, by accelerator.
GPU_RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}

STARTUP_BASE_SECONDS = 120
STARTUP_SECONDS_PER_GIB = 15
STARTUP_MAX_SECONDS = 3600
#: Budget when the model size is not known yet (a 40 GiB file at the per-GiB rate).
STARTUP_UNKNOWN_SIZE_SECONDS = 720
PROBE_PERIOD_SECONDS = 10
#: The startup probe asks often: a small model loads in a second or two, and a pod is Ready (and counted as an
#: endpoint) only at the first probe that passes, so a 10 s period made every start wait up to 10 s more. The
#: failure threshold keeps the same time budget; only startup is probed this often.
STARTUP_PROBE_PERIOD_SECONDS = 2


def startup_budget_seconds(size_bytes: int | None) -> int:
    if size_bytes is None:
        return STARTUP_UNKNOWN_SIZE_SECONDS
    gib = -(-size_bytes // (1 << 30))  # ceiling: a 100 MiB model still gets one GiB's worth
    return min(STARTUP_MAX_SECONDS, STARTUP_BASE_SECONDS + STARTUP_SECONDS_PER_GIB * gib)


def gpu_toleration(accelerator: str) -> dict[str, Any] | None:
    resource = GPU_RESOURCES.get(accelerator)
    if resource is None:
        return None
    return {"key": resource, "operator": "Exists", "effect": "NoSchedule"}


def merged_tolerations(base: dict[str, Any] | None, user: list[Toleration] | None) -> list[dict[str, Any]]:
    """The base toleration first, then the user's in order, each distinct toleration once."""
    merged: list[dict[str, Any]] = []
    for toleration in ([base] if base else []) + [to_wire(t) for t in user or ()]:
        if toleration not in merged:
            merged.append(toleration)
    return merged


def _probes(budget_seconds: int) -> dict[str, Any]:
    def health(**timing: int) -> dict[str, Any]:
        return {"httpGet": {"path": "/health", "port": "http"}, **timing}

    return {
        # /health answers 503 while the model loads and 200 once it can serve.
        "startupProbe": health(
            periodSeconds=STARTUP_PROBE_PERIOD_SECONDS,
            timeoutSeconds=5,
            failureThreshold=max(1, -(-budget_seconds // STARTUP_PROBE_PERIOD_SECONDS)),
        ),
        "readinessProbe": health(periodSeconds=PROBE_PERIOD_SECONDS, timeoutSeconds=5, failureThreshold=3),
        # Generous: a server busy with long generations answers slowly, and a restart reloads the weights.
        "livenessProbe": health(periodSeconds=20, timeoutSeconds=10, failureThreshold=6),
    }


def _resources(isvc: InferenceService, gpus: int, memory: str | None) -> dict[str, Any]:
    requests: dict[str, str] = {}
    limits: dict[str, Any] = {}
    if isvc.spec.resources is not None and isvc.spec.resources.cpu:
        requests["cpu"] = isvc.spec.resources.cpu
    memory = isvc.spec.resources.memory if isvc.spec.resources and isvc.spec.resources.memory else memory
    if memory:
        # Memory is also the limit: an inference server over its request is the first the kernel kills.
        requests["memory"] = limits["memory"] = memory
    gpu_resource = GPU_RESOURCES.get(isvc.spec.accelerator.type)
    if gpu_resource is not None and gpus > 0:
        limits[gpu_resource] = gpus
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


def desired_deployment(
    *,
    isvc: InferenceService,
    model: Model,
    config: ControllerConfig,
    chosen_gpus: int | None = None,
    memory_request: str | None = None,
) -> dict[str, Any] | None:
    """The Deployment serving `model` for `isvc`, or None for metal/host services (the host agent serves them).

    `chosen_gpus` is the GPU count the memory plan picked when nobody wrote one, `memory_request` the memory
    the plan asks for (spec.resources.memory wins over it); controller.builders.service_fit decides both.
    `model` must be Ready (its status has a cacheKey); raises ValueError otherwise and ReservedArgumentError for
    extraArgs that set a flag the operator owns.
    """
    spec = isvc.spec
    if spec.accelerator.type in HOST_ACCELERATORS:
        return None
    name = object_name(isvc)
    status = model.status
    if status is None or not status.cache_key:
        raise ValueError(f"Model '{object_name(model)}' has no cacheKey yet; wait for it to be Ready")
    shape = serving_shape(spec, model.spec, status.gguf, chosen_gpus=chosen_gpus)
    api_key = api_key_volume(spec.api_key_secret_ref)
    args = llama_server_args(
        alias=name,
        spec=spec,
        model=model.spec,
        gguf=status.gguf,
        model_path=cached_model_path(config, status.cache_key),
        api_key_file=API_KEY_FILE if api_key is not None else None,
        chosen_gpus=chosen_gpus,
    )
    labels = service_labels(isvc_name=name, model_name=spec.model_ref.name)
    tmp_volume, tmp_mount = scratch_volume()
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image or config.llama_server_images.for_accelerator(spec.accelerator.type),
        "args": args,
        "ports": [{"name": "http", "containerPort": spec.endpoint.port, "protocol": "TCP"}],
        # No passwd entry for the non-root user: point HOME somewhere writable.
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": _resources(isvc, shape.gpu_count, memory_request),
        **_probes(startup_budget_seconds(status.size_bytes)),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {
                "name": "model-cache",
                "mountPath": cache_dir(config, status.cache_key),
                "subPath": status.cache_key,
                "readOnly": True,
            },
            tmp_mount,
        ],
    }
    if api_key is not None:
        container["volumeMounts"].append(api_key[1])
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [
            {
                "name": "model-cache",
                "persistentVolumeClaim": {"claimName": config.model_cache_pvc_name, "readOnly": True},
            },
            tmp_volume,
        ],
    }
    if api_key is not None:
        pod_spec["volumes"].append(api_key[0])
    tolerations = merged_tolerations(gpu_toleration(spec.accelerator.type), spec.tolerations)
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.affinity:
        pod_spec["affinity"] = spec.affinity
    if spec.priority_class_name:
        pod_spec["priorityClassName"] = spec.priority_class_name

    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": labels,
                "annotations": {"kubectl.kubernetes.io/default-container": CONTAINER_NAME},
            },
            "spec": pod_spec,
        },
    }
    if spec.autoscaling is None:
        deployment_spec["replicas"] = spec.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(
            name=resource_name(name), namespace=object_namespace(isvc), labels=labels, owner=isvc
        ),
        "spec": deployment_spec,
    }
