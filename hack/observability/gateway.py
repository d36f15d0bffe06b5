"""The gateway part of an observed cluster: a real `llmkube-gateway` in front of a real llama-server, and traffic
that moves every series its dashboard shows.

The served InferenceService (`smollm2-135m-host`, SmolLM2 on the `host` accelerator) is run by the real host
agent (llmkube.agent), which starts llama-server on loopback and publishes its EndpointSlice, so the gateway routes
exactly as it does in a cluster. The service starts at zero replicas with scale-to-zero on, and gets, in order:

- one request that wakes it (a wake-up and a wake time);
- a burst wider than its one slot plus its one queue place: some requests wait (queue wait), the rest are shed
  with 429 (the refused share);
- one request for a model nobody serves (404, counted under `model=""`);
- silence until the gateway scales it back to zero (a scale-down).

The gateway and the agent run in-process with the admin kubeconfig; the gateway's /metrics is scraped with the
labels its ServiceMonitor (config/prometheus/gateway-monitor.yaml) gives it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import yaml

from api.v1alpha1.model import API_VERSION
from controller.kube import KubeClient
from controller.kube.resources import INFERENCE_SERVICES
from hack.demo import free_port
from hack.llama import llama_server_binary
from hack.localcluster.rest import wait_until
from hack.observability.prometheus import Prometheus
from hack.observability.scrape import Target, scrape_job
from llmkube.agent import AgentOptions, PortRange, run_agent
from llmkube.gateway import GatewayOptions, RunningGateway, run_gateway

REPO = Path(__file__).resolve().parents[2]
GATEWAY_MONITOR = REPO / "config" / "prometheus" / "gateway-monitor.yaml"
SYSTEM_NAMESPACE = "llmkube-system"
GATEWAY_SERVICE = "llmkube-gateway"
SERVED_BY_GATEWAY = "smollm2-135m-host"
IDLE_SECONDS = 3
#: Concurrent requests in the burst: one runs, one waits, the others are shed.
BURST = 6
ROUTE_TIMEOUT_S = 180.0
QUESTION = {"messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 16}


def host_service_manifest(*, namespace: str, model: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": SERVED_BY_GATEWAY, "namespace": namespace},
        "spec": {
            "modelRef": {"name": model},
            "accelerator": {"type": "host"},
            "replicas": 0,
            "parallelSlots": 1,
            "contextSize": 1024,
            "scaleToZero": {"idleSeconds": IDLE_SECONDS},
        },
    }


def gateway_scrape_job(address: str, *, interval: str) -> dict[str, Any]:
    monitor = {**yaml.safe_load(GATEWAY_MONITOR.read_text())}
    monitor["metadata"] = {"name": "llmkube-gateway", "namespace": SYSTEM_NAMESPACE}
    target = Target(
        address=address,
        namespace=SYSTEM_NAMESPACE,
        service=GATEWAY_SERVICE,
        pod="llmkube-gateway-6c9d7b5f48-m4t8w",
        container="gateway",
    )
    return scrape_job(monitor=monitor, target=target, interval=interval)


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    async with session.post(url, json=body) as response:
        await response.read()
        return response.status


async def _replicas(kube: KubeClient, namespace: str) -> int:
    obj = await kube.get(INFERENCE_SERVICES, SERVED_BY_GATEWAY, namespace=namespace)
    return int(obj["spec"]["replicas"])


async def gateway_traffic(
    kube: KubeClient, *, gateway: RunningGateway, namespace: str, timeout_s: float = ROUTE_TIMEOUT_S
) -> dict[int, int]:
    """What the module docstring lists, in order; returns how many answers had each status code."""
    url = f"http://127.0.0.1:{gateway.port}/v1/chat/completions"
    codes: dict[int, int] = {}
    body = {**QUESTION, "model": SERVED_BY_GATEWAY}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        woke = await _post(session, url, body)
        if woke != 200:
            raise RuntimeError(f"the request that wakes {SERVED_BY_GATEWAY} through the gateway got {woke}")
        codes[woke] = 1

        async def one() -> None:
            status = await _post(session, url, body)
            codes[status] = codes.get(status, 0) + 1

        async with anyio.create_task_group() as tg:
            for _ in range(BURST):
                tg.start_soon(one)
        unknown = await _post(session, url, {**QUESTION, "model": "no-such-model"})
        codes[unknown] = codes.get(unknown, 0) + 1
    # The idler's scale-down is what the last panel counts; the scene waits for it, polling the spec.
    with anyio.fail_after(timeout_s):
        while True:
            if await _replicas(kube, namespace) == 0:
                break
            await anyio.sleep(0.5)
    return codes


def wait_for_scale_down_scrapes(prometheus: Prometheus, *, timeout_s: float = 60.0) -> None:
    """Until the scale-down counter has two samples: `increase()` over one sample is no series at all."""
    wait_until(
        lambda: bool(prometheus.query("count_over_time(llmkube_gateway_scale_downs_total[1h]) >= 2")),
        what="two scrapes of the gateway's scale-down counter",
        timeout_seconds=timeout_s,
    )


@contextlib.asynccontextmanager
async def running_gateway(
    kubeconfig: Path, *, namespace: str, workdir: Path
) -> AsyncIterator[RunningGateway]:
    """The host agent and the gateway, in-process, watching `namespace`; both stop on exit."""
    first = free_port()
    agent = AgentOptions(
        namespaces=(namespace,),
        kubeconfig=kubeconfig,
        cache_dir=workdir / "agent-cache",
        llama_server=llama_server_binary(),
        host_address="127.0.0.1",
        port_range=PortRange(first=first, last=first + 20),
        host_name="observed-host",
        health_port=0,
        health_interval=0.5,
        stop_grace=5.0,
        startup_timeout=120.0,
        log_level="warning",
    )
    options = GatewayOptions(
        namespaces=(namespace,),
        kubeconfig=kubeconfig,
        host="127.0.0.1",
        port=0,
        health_host="127.0.0.1",
        health_port=0,
        queue_size=1,
        log_level="warning",
    )
    async with anyio.create_task_group() as tg:
        await tg.start(functools.partial(run_agent, agent))
        gateway: RunningGateway = await tg.start(functools.partial(run_gateway, options))
        try:
            yield gateway
        finally:
            tg.cancel_scope.cancel()
