"""What the InferenceService reconciler tests need around the controller: a namespace with a cache claim, Models
made Ready by a status patch (the Model reconciler is not under test), the controller running in-process, the
real prometheus-operator ServiceMonitor CRD, and a client that counts the controller's writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import yaml
from prometheus_client import CollectorRegistry

from controller.config import CONTROLLER_PROGRAM, ControllerConfig, ControllerOptions
from controller.kube import EventRecorder, KubeClient, user_agent
from controller.kube.resources import MODELS
from controller.reconcilers.inferenceservice import setup_inferenceservice_controller
from controller.runtime.manager import Manager, ManagerOptions
from tests.integration.reconcilers.counting_client import CountingKubeClient as CountingKubeClient
from tests.integration.waiting import wait_for as wait_for
from tests.integration.waiting import wait_gone as wait_gone

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "config" / "samples"
API_VERSION = "inference.llmkube.dev/v1alpha1"

PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_OPERATOR_VERSION = "v0.85.0"
SERVICE_MONITOR_CRD_FILE = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
CACHE = Path.home() / ".cache" / "llmkube"


@contextlib.asynccontextmanager
async def running_controller(
    kubeconfig: Path, *, namespace: str, config: ControllerConfig | None = None
) -> AsyncIterator[tuple[Manager, CountingKubeClient]]:
    """The manager with only the InferenceService controller, on its own client, until the block ends."""
    async with CountingKubeClient.connect(
        kubeconfig=kubeconfig, user_agent=user_agent(CONTROLLER_PROGRAM)
    ) as client:
        assert isinstance(client, CountingKubeClient)
        manager = Manager(
            client, options=ManagerOptions(health_port=0, handle_signals=False), registry=CollectorRegistry()
        )
        recorder = EventRecorder(client, component=CONTROLLER_PROGRAM)
        manager.add(recorder, needs_leader=False)
        setup_inferenceservice_controller(
            manager,
            ControllerOptions(config=config or ControllerConfig(), namespace=namespace),
            recorder=recorder,
        )
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            try:
                yield manager, client
            finally:
                manager.stop()


def sample(file_name: str, kind: str, *, namespace: str) -> dict[str, Any]:
    for doc in yaml.safe_load_all((SAMPLES / file_name).read_text()):
        if doc["kind"] == kind:
            doc["metadata"]["namespace"] = namespace
            return dict(doc)
    raise LookupError(f"no {kind} in {file_name}")


def hf_model(name: str, *, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"huggingFace": {"repo": "bartowski/SmolLM2-135M-Instruct-GGUF", "filename": "m.gguf"}},
            **spec,
        },
    }


def inference_service(name: str, *, namespace: str, model: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelRef": {"name": model}, **spec},
    }


def ready_model_status(name: str) -> dict[str, Any]:
    """What the Model reconciler reports once the file is cached and verified."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    key = digest[:16]
    return {
        "phase": "Ready",
        "cacheKey": key,
        "path": f"/models/{key}/model.gguf",
        "sha256": digest,
        "sizeBytes": 7_865_956_352,
        "size": "7.3 GiB",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Cached",
                "message": "verified and cached",
                "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ],
    }


async def make_model_ready(kube: KubeClient, name: str, *, namespace: str) -> None:
    await kube.patch_status(MODELS, name, {"status": ready_model_status(name)}, namespace=namespace)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == kind:
            return dict(item)
    return {}


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: (obj.get("status") or {}).get("phase") in phases


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def args_follow(args: Iterable[str], *expected: str) -> bool:
    """Whether `expected` occurs in `args` as consecutive items."""
    items = list(args)
    return any(items[i : i + len(expected)] == list(expected) for i in range(len(items)))


def service_monitor_crd() -> dict[str, Any]:
    """The real ServiceMonitor CRD of a pinned prometheus-operator, from the Go module cache (not vendored)."""
    cached = CACHE / "crds" / f"servicemonitors-{PROMETHEUS_OPERATOR_VERSION}.json"
    if not cached.exists():
        env = {**os.environ, "GOMODCACHE": str(CACHE / "go-mod"), "GOFLAGS": "-mod=mod"}
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{PROMETHEUS_OPERATOR}@{PROMETHEUS_OPERATOR_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=CACHE,
            timeout=600,
        )
        module_dir = Path(json.loads(result.stdout)["Dir"])
        crd = yaml.safe_load((module_dir / SERVICE_MONITOR_CRD_FILE).read_text())
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(crd))
    loaded: dict[str, Any] = json.loads(cached.read_text())
    return loaded
