"""Scale from zero and back through the gateway, with the host agent serving a real llama-server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest
from aiohttp import web

from controller.kube import KubeClient
from controller.kube.resources import INFERENCE_SERVICES, MODELS
from llmkube.agent import AgentOptions
from llmkube.gateway import GatewayOptions
from llmkube.gateway.proxy import WAKE_HEADER
from tests.integration.agent.helpers import eventually, running_agent
from tests.integration.gateway.stack import (
    create_service,
    replicas,
    routable,
    running_controller,
    running_gateway,
    sample,
)

pytestmark = pytest.mark.llama

QUESTION = [{"role": "user", "content": "Say hello."}]


async def test_a_service_at_zero_answers_its_first_request_and_reports_the_wake_time(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    await create_service(kube, namespace, "sleepy", replicas=0, idle_seconds=300)
    async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
        client = openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{gateway.port}/v1", api_key="-", max_retries=0
        )
        raw = await client.chat.completions.with_raw_response.create(
            model="sleepy", messages=QUESTION, max_tokens=8
        )
        answer = raw.parse()
        wakeups = sample(gateway, "llmkube_gateway_wakeups_total", namespace, "sleepy")
        woke = sample(gateway, "llmkube_gateway_wake_seconds_count", namespace, "sleepy")
        scaled_to = await replicas(kube, namespace, "sleepy")

    assert answer.model == "sleepy"
    assert answer.choices[0].message.content
    assert float(raw.headers[WAKE_HEADER]) > 0
    assert (wakeups, woke, scaled_to) == (1, 1, 1)


async def test_an_idle_service_goes_back_to_zero_its_server_stops_and_its_status_says_so(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
    kubeconfig_file: Path,
) -> None:
    await create_service(kube, namespace, "sleepy", replicas=1, idle_seconds=2)
    async with (
        running_controller(kubeconfig_file, namespace=namespace),
        running_agent(agent_options),
        running_gateway(gateway_options) as gateway,
    ):
        await routable(gateway, namespace, "sleepy")

        async def at_zero() -> bool:
            return await replicas(kube, namespace, "sleepy") == 0

        await eventually(at_zero, within=60, what="the idle service scaled to zero")
        state = gateway.table.get(f"{namespace}/sleepy")
        assert state is not None
        await eventually(
            lambda: _value(not state.route.ready), within=60, what="its replica withdrawn from the gateway"
        )
        downs = sample(gateway, "llmkube_gateway_scale_downs_total", namespace, "sleepy")

        async def scaled_to_zero() -> dict[str, Any] | None:
            obj = await kube.get(INFERENCE_SERVICES, "sleepy", namespace=namespace)
            return obj if (obj.get("status") or {}).get("phase") == "ScaledToZero" else None

        status = (await eventually(scaled_to_zero, within=60, what="phase ScaledToZero"))["status"]

    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert downs == 1
    assert "the gateway starts a replica on the next request" in ready["message"]


async def test_a_request_in_flight_keeps_its_service_up_past_the_idle_period(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    await create_service(kube, namespace, "busy", replicas=1, idle_seconds=1, context_size=2048)
    async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
        await routable(gateway, namespace, "busy")
        client = openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{gateway.port}/v1", api_key="-", max_retries=0
        )
        # Long enough to outlast the idle period several times over on any machine this runs on.
        answer = await client.chat.completions.create(
            model="busy", messages=QUESTION, max_tokens=800, extra_body={"ignore_eos": True}
        )
        downs_during = sample(gateway, "llmkube_gateway_scale_downs_total", namespace, "busy")

    assert answer.usage is not None
    assert (answer.usage.completion_tokens, answer.choices[0].finish_reason) == (800, "length")
    assert downs_during == 0


@contextlib.asynccontextmanager
async def slow_model_url(gguf_file: Path, *, chunk_delay: float) -> AsyncIterator[str]:
    """The GGUF over loopback HTTP at about 1 MiB per `chunk_delay`: a model that takes a while to arrive."""

    content = await anyio.Path(gguf_file).read_bytes()
    chunk = 1 << 20

    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(content))})
        await response.prepare(request)
        for start in range(0, len(content), chunk):
            await response.write(content[start : start + chunk])
            await anyio.sleep(chunk_delay)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get(f"/slow/{gguf_file.name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/slow/{gguf_file.name}"
    finally:
        await runner.cleanup()


async def test_a_service_still_loading_is_never_scaled_down(
    kube: KubeClient,
    namespace: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
    gguf_file: Path,
    gguf_sha256: str,
) -> None:
    async with slow_model_url(gguf_file, chunk_delay=0.05) as url:  # ~100 chunks: several idle periods
        await kube.create(
            MODELS,
            {
                "apiVersion": MODELS.api_version,
                "kind": MODELS.kind,
                "metadata": {"name": "slow", "namespace": namespace},
                "spec": {"source": {"url": url}, "sha256": gguf_sha256},
            },
        )
        await kube.patch_status(MODELS, "slow", {"status": {"phase": "Ready"}}, namespace=namespace)
        await create_service(kube, namespace, "loading", model="slow", replicas=1, idle_seconds=1)
        async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
            await routable(gateway, namespace, "loading", within=300)
            # Ready at last, after loading for far longer than idleSeconds: it was left alone meanwhile.
            at_ready = await replicas(kube, namespace, "loading")
            downs_while_loading = sample(gateway, "llmkube_gateway_scale_downs_total", namespace, "loading")

            async def at_zero() -> bool:
                return await replicas(kube, namespace, "loading") == 0

            await eventually(at_zero, within=60, what="the idle service scaled to zero once ready")

    assert (at_ready, downs_while_loading) == (1, 0)


async def _value(result: bool) -> bool:
    return result
