"""Running the pieces in-process for one test, and the small reads the gateway tests make."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from prometheus_client import CollectorRegistry

from controller.config import CONTROLLER_PROGRAM, ControllerOptions
from controller.kube import EventRecorder, KubeClient, user_agent
from controller.kube.resources import INFERENCE_SERVICES
from controller.reconcilers.inferenceservice import setup_inferenceservice_controller
from controller.runtime.manager import Manager, ManagerOptions
from llmkube.gateway import GatewayOptions, RunningGateway, run_gateway
from tests.integration.agent.helpers import MODEL_NAME, eventually


@contextlib.asynccontextmanager
async def running_gateway(options: GatewayOptions) -> AsyncIterator[RunningGateway]:
    """The gateway in-process; leaving the block cancels it, which is its graceful shutdown."""
    async with anyio.create_task_group() as tg:
        gateway: RunningGateway = await tg.start(functools.partial(run_gateway, options))
        yield gateway
        tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def running_controller(kubeconfig: Path, *, namespace: str) -> AsyncIterator[None]:
    """The InferenceService controller, so services carry the phase a user would see in /v1/models."""
    async with KubeClient.connect(kubeconfig=kubeconfig, user_agent=user_agent(CONTROLLER_PROGRAM)) as client:
        manager = Manager(
            client, options=ManagerOptions(health_port=0, handle_signals=False), registry=CollectorRegistry()
        )
        recorder = EventRecorder(client, component=CONTROLLER_PROGRAM)
        setup_inferenceservice_controller(manager, ControllerOptions(namespace=namespace), recorder=recorder)
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            yield
            manager.stop()


async def create_service(
    kube: KubeClient,
    namespace: str,
    name: str,
    *,
    model: str = MODEL_NAME,
    slots: int = 2,
    context_size: int = 2048,
    replicas: int = 1,
    idle_seconds: int | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "modelRef": {"name": model},
        "accelerator": {"type": "host"},
        "replicas": replicas,
        "parallelSlots": slots,
        "contextSize": context_size,
    }
    if idle_seconds is not None:
        spec["scaleToZero"] = {"idleSeconds": idle_seconds}
    return await kube.create(
        INFERENCE_SERVICES,
        {
            "apiVersion": INFERENCE_SERVICES.api_version,
            "kind": INFERENCE_SERVICES.kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        },
    )


async def routable(gateway: RunningGateway, namespace: str, name: str, *, within: float = 120.0) -> str:
    """Wait until the gateway has a ready replica for the service; its upstream's base URL."""

    async def ready() -> str | None:
        state = gateway.table.get(f"{namespace}/{name}")
        return state.route.ready[0].url if state is not None and state.route.ready else None

    url: str = await eventually(ready, within=within, what=f"a ready replica of {name} in the gateway")
    return url


async def replicas(kube: KubeClient, namespace: str, name: str) -> int:
    obj = await kube.get(INFERENCE_SERVICES, name, namespace=namespace)
    return int(obj["spec"]["replicas"])


def sample(gateway: RunningGateway, metric: str, namespace: str, name: str, **labels: str) -> float:
    value = gateway.registry.get_sample_value(metric, {"namespace": namespace, "model": name, **labels})
    return value or 0.0


async def server_metrics(base_url: str) -> dict[str, float]:
    """llama-server's own Prometheus gauges and counters (`llamacpp:*`), read directly from the server."""
    async with aiohttp.ClientSession() as session, session.get(base_url + "/metrics") as response:
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values
