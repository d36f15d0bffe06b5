"""Where the controller's memory goes (not a test): the interpreter and libraries, and each cached object by kind.

    .venv/bin/python -m hack.bench.cache_memory [--objects 1000]

No cluster needed. Each figure comes from a fresh child process:

- baseline: resident memory of a bare interpreter, after importing the libraries, and after importing the
  controller program;
- per cached object: N objects of one kind, shaped as the API server sends them (built by the controller's own
  builders, with the server's metadata, `managedFields` and status added), each decoded from its own JSON
  document as a watch event is, then stored in an informer store as received or trimmed by the controller's
  cache transform. Reported as Python heap bytes per object (tracemalloc: exact, where resident memory per
  object would also count the allocator's slack and tracemalloc's own bookkeeping).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

MiB = 2**20
TIME = "2026-01-01T00:00:00Z"
KINDS = ("Deployment", "Pod", "InferenceService", "Model", "Service")


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def fields_v1(value: Any) -> Any:
    """The `fieldsV1` tree the API server records for a manager that set `value`."""
    if isinstance(value, dict):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    if isinstance(value, list):
        return {
            (f"k:{json.dumps({'name': item.get('name')})}" if isinstance(item, dict) else f"v:{item}"): (
                fields_v1(item) if isinstance(item, dict) else {}
            )
            for item in value
        }
    return {}


def managed(manager: str, body: Any, *, operation: str, subresource: str | None = None) -> dict[str, Any]:
    entry = {"manager": manager, "operation": operation, "apiVersion": "v1", "time": TIME}
    entry |= {"fieldsType": "FieldsV1", "fieldsV1": fields_v1(body)}
    return entry | ({"subresource": subresource} if subresource else {})


def served(obj: dict[str, Any], managers: list[dict[str, Any]], *, uid: str) -> dict[str, Any]:
    meta = obj["metadata"]
    meta.update(
        uid=uid, resourceVersion="1234567", generation=1, creationTimestamp=TIME, managedFields=managers
    )
    return obj


def samples() -> dict[str, dict[str, Any]]:
    """One object of each cached kind, as a watch event delivers it for a settled CPU service."""
    from api.v1alpha1.converter import from_wire
    from api.v1alpha1.inferenceservice import InferenceService
    from api.v1alpha1.model import Model
    from controller.builders.deployment import desired_deployment
    from controller.builders.service import desired_service
    from controller.config import ControllerConfig
    from controller.reconcilers.apply import with_applied_hash

    meta = {"name": "svc-0000", "namespace": "bench", "uid": "3f1c2a9e-8b7d-4c6e-9a5f-0d1e2f3a4b5c"}
    isvc_wire = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": dict(meta, generation=1),
        "spec": {"modelRef": {"name": "m-svc-0000"}, "replicas": 1},
    }
    model_wire = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "Model",
        "metadata": {"name": "m-svc-0000", "namespace": "bench"},
        "spec": {"source": {"url": "https://models.example/m-svc-0000.gguf"}},
        "status": {
            "phase": "Ready",
            "cacheKey": "0123456789abcdef",
            "path": "/models/0123456789abcdef/model.gguf",
        },
    }
    isvc, model = from_wire(isvc_wire, InferenceService), from_wire(model_wire, Model)
    config = ControllerConfig()
    deployment = desired_deployment(isvc=isvc, model=model, config=config)
    assert deployment is not None
    deployment = with_applied_hash(deployment)
    service = with_applied_hash(desired_service(isvc))
    conditions = [
        {
            "type": t,
            "status": "True",
            "lastUpdateTime": TIME,
            "lastTransitionTime": TIME,
            "reason": r,
            "message": m,
        }
        for t, r, m in (
            ("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            (
                "Progressing",
                "NewReplicaSetAvailable",
                'ReplicaSet "svc-0000-7d9f8c6b5" has successfully progressed.',
            ),
        )
    ]
    deployment["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "conditions": conditions,
    }
    deployment = served(
        deployment,
        [
            managed(
                config.field_manager,
                {k: v for k, v in deployment.items() if k != "status"},
                operation="Apply",
            ),
            managed(
                "kube-controller-manager",
                {"status": deployment["status"]},
                operation="Update",
                subresource="status",
            ),
        ],
        uid="5b2d6c1e-0f3a-4e7b-8c9d-1a2b3c4d5e6f",
    )
    template = copy.deepcopy(deployment["spec"]["template"])
    pod_status = {
        "phase": "Running",
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": TIME}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "hostIP": "10.0.0.2",
        "hostIPs": [{"ip": "10.0.0.2"}],
        "podIP": "10.244.1.17",
        "podIPs": [{"ip": "10.244.1.17"}],
        "startTime": TIME,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": "llama-server",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "image": template["spec"]["containers"][0]["image"],
                "imageID": "",
                "containerID": "kwok://0a1b2c3d",
                "state": {"running": {"startedAt": TIME}},
            }
        ],
    }
    pod_meta = dict(template["metadata"], name="svc-0000-7d9f8c6b5-x2x9k", namespace="bench")
    pod_meta |= {"generateName": "svc-0000-7d9f8c6b5-"}
    pod_meta["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "svc-0000-7d9f8c6b5",
            "uid": "0" * 36,
            "controller": True,
        }
    ]
    pod_spec = dict(template["spec"], nodeName="bench-wide-1", schedulerName="default-scheduler")
    pod_spec |= {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "terminationGracePeriodSeconds": 30}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec, "status": pod_status}
    pod = served(
        pod,
        [
            managed("kube-controller-manager", {"metadata": pod_meta, "spec": pod_spec}, operation="Update"),
            managed("kwok", {"status": pod_status}, operation="Update", subresource="status"),
        ],
        uid="7c3e5f2a-1b4d-4a6c-9e8f-2b3c4d5e6f70",
    )
    isvc_status = {
        "phase": "Ready",
        "endpoint": "http://svc-0000.bench.svc.cluster.local:8080/v1",
        "selector": "app.kubernetes.io/name=llmkube,inference.llmkube.dev/service=svc-0000",
        "observedGeneration": 1,
        "conditions": [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": "1/1 replicas ready",
                "lastTransitionTime": TIME,
                "observedGeneration": 1,
            }
            for t, s, r in (
                ("Ready", "True", "ReplicasReady"),
                ("Progressing", "False", "RolloutComplete"),
                ("Degraded", "False", "AsExpected"),
                ("ModelReady", "True", "ModelReady"),
            )
        ],
    }
    isvc_obj = served(
        dict(isvc_wire, status=isvc_status),
        [
            managed("kubectl", {"spec": isvc_wire["spec"]}, operation="Apply"),
            managed(config.field_manager, {"status": isvc_status}, operation="Apply", subresource="status"),
        ],
        uid=meta["uid"],
    )
    model_obj = served(
        model_wire,
        [managed("kubectl", {"spec": model_wire["spec"]}, operation="Apply")],
        uid="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
    )
    service["spec"] |= {"clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"], "ipFamilies": ["IPv4"]}
    service = served(service, [managed(config.field_manager, service, operation="Apply")], uid="1" * 36)
    return {
        "Deployment": deployment,
        "Pod": pod,
        "InferenceService": isvc_obj,
        "Model": model_obj,
        "Service": service,
    }


def measure_kind(kind: str, count: int, *, trimmed: bool) -> float:
    """Heap bytes per object for `count` cached objects of `kind` (run in a fresh process)."""
    from controller.kube.resources import DEPLOYMENTS, INFERENCE_SERVICES, MODELS, PODS, SERVICES
    from controller.reconcilers.cached_fields import cached_fields
    from controller.runtime.store import Store

    resource = {
        "Deployment": DEPLOYMENTS,
        "Pod": PODS,
        "InferenceService": INFERENCE_SERVICES,
        "Model": MODELS,
        "Service": SERVICES,
    }[kind]
    transform = cached_fields(resource)
    documents = [json.dumps(samples()[kind]).replace("svc-0000", f"svc-{i:05d}") for i in range(count)]
    store = Store()
    gc.collect()
    tracemalloc.start()
    for document in documents:
        obj = json.loads(document)
        store.upsert(transform(obj) if trimmed else obj)
    gc.collect()
    heap, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(store) == count
    return heap / count


def baseline() -> list[tuple[str, float]]:
    steps = [("bare interpreter", rss_bytes())]
    import aiohttp  # noqa: F401
    import anyio  # noqa: F401
    import cattrs  # noqa: F401
    import prometheus_client  # noqa: F401
    import structlog  # noqa: F401

    steps.append(("+ anyio, aiohttp, structlog, cattrs, prometheus_client", rss_bytes()))
    import kubernetes_asyncio  # noqa: F401

    steps.append(("+ kubernetes_asyncio (its generated client included)", rss_bytes()))
    import controller.__main__  # noqa: F401

    steps.append(("+ the controller program", rss_bytes()))
    return [(label, value / MiB) for label, value in steps]


def child(argv: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hack.bench.cache_memory", *argv], check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--kind", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--trimmed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.objects < 1:
        parser.error("--objects must be at least 1")
    if arguments.baseline:
        print(json.dumps(baseline()))
        return 0
    if arguments.kind:
        print(json.dumps(measure_kind(arguments.kind, arguments.objects, trimmed=arguments.trimmed)))
        return 0
    print("resident memory of a fresh process (MiB):")
    for label, value in json.loads(child(["--baseline"])):
        print(f"  {label:58s} {value:6.1f}")
    print(f"per cached object, {arguments.objects} of a kind (KiB of Python heap):")
    print(f"  {'kind':18s} {'as received':>12s} {'trimmed':>10s} {'JSON sent':>10s}")
    total = [0.0, 0.0]
    for kind in KINDS:
        full = json.loads(child(["--kind", kind, "--objects", str(arguments.objects)]))
        kept = json.loads(child(["--kind", kind, "--objects", str(arguments.objects), "--trimmed"]))
        size = len(json.dumps(samples()[kind]))
        total[0] += full
        total[1] += kept
        print(f"  {kind:18s} {full / 1024:12.1f} {kept / 1024:10.1f} {size / 1024:10.1f}")
    print(
        f"  one service and its Model, Deployment, Service, pod: {total[0] / 1024:.1f} KiB as received, "
        f"{total[1] / 1024:.1f} KiB trimmed (heap)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
