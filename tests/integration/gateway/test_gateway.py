"""The gateway on the local control plane with the real OpenAI client and real llama-servers: routing by name,
streaming, the model list, errors in OpenAI's shape, a disconnecting client, and shedding a burst."""

from __future__ import annotations

from typing import Any

import aiohttp
import anyio
import attrs
import openai
import pytest

from controller.kube import KubeClient
from llmkube.agent import AgentOptions
from llmkube.gateway import GatewayOptions, RunningGateway
from llmkube.gateway.timing import TIMING_HEADER, parse_server_timing
from tests.integration.agent.helpers import eventually, running_agent
from tests.integration.gateway.stack import (
    create_service,
    routable,
    running_controller,
    running_gateway,
    sample,
    server_metrics,
)

pytestmark = pytest.mark.llama

QUESTION = [{"role": "user", "content": "Name a colour."}]


def client_for(gateway: RunningGateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{gateway.port}/v1", api_key="unused", max_retries=0)


async def test_requests_reach_the_service_they_name(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    for name in ("alpha", "beta"):
        await create_service(kube, namespace, name)
    async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
        for name in ("alpha", "beta"):
            await routable(gateway, namespace, name)
        client = client_for(gateway)
        answers = {
            name: await client.chat.completions.create(model=name, messages=QUESTION, max_tokens=8)
            for name in ("alpha", "beta")
        }

    # Each server is started with --alias <service name>, so the answer names the server that wrote it.
    assert {name: answer.model for name, answer in answers.items()} == {"alpha": "alpha", "beta": "beta"}
    assert all(answer.choices[0].message.content for answer in answers.values())


async def test_a_streamed_answer_arrives_in_pieces_through_the_gateway(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    await create_service(kube, namespace, "beta")
    async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
        await routable(gateway, namespace, "beta")
        raw = await client_for(gateway).chat.completions.with_raw_response.create(
            model="beta", messages=QUESTION, max_tokens=16, stream=True
        )
        chunks = [chunk async for chunk in raw.parse()]
        ttft_count = sample(gateway, "llmkube_gateway_upstream_ttft_seconds_count", namespace, "beta")

    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert {c.model for c in chunks} == {"beta"}
    assert ttft_count == 1
    # The server's share of the wait, as the client sees it in the answer's headers.
    timing = parse_server_timing(raw.headers[TIMING_HEADER])
    assert timing["upstream"] > 0
    assert timing["queue"] >= 0


async def test_the_model_list_shows_every_service_with_its_phase(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
    kubeconfig_file: Any,
) -> None:
    await create_service(kube, namespace, "alpha")
    await create_service(kube, namespace, "dormant", replicas=0, idle_seconds=300)
    async with (
        running_controller(kubeconfig_file, namespace=namespace),
        running_agent(agent_options),
        running_gateway(gateway_options) as gateway,
    ):
        await routable(gateway, namespace, "alpha")
        client = client_for(gateway)

        async def phases() -> dict[str, Any] | None:
            listed = {m.id: (m.model_extra or {}).get("phase") async for m in client.models.list()}
            return listed if listed.get("alpha") == "Ready" else None

        listed = await eventually(phases, within=60, what="alpha listed as Ready")
        one = await client.models.retrieve("dormant")

    assert listed == {"alpha": "Ready", "dormant": "ScaledToZero"}
    assert (one.id, one.owned_by) == ("dormant", namespace)


async def test_an_unknown_model_gets_a_404_in_openais_shape(
    kube: KubeClient, namespace: str, gateway_options: GatewayOptions
) -> None:
    async with running_gateway(gateway_options) as gateway:
        with pytest.raises(openai.NotFoundError) as caught:
            await client_for(gateway).chat.completions.create(model="no-such-model", messages=QUESTION)

    body = caught.value.response.json()
    assert caught.value.status_code == 404
    assert set(body) == {"error"}
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "model_not_found"
    assert body["error"]["param"] == "model"
    assert "no-such-model" in body["error"]["message"]


async def test_a_client_that_disconnects_frees_the_servers_slot(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    long_answer = 4000  # tokens; far more than arrive before the client hangs up
    await create_service(kube, namespace, "alpha", slots=1, context_size=4096 + 256)
    async with running_agent(agent_options), running_gateway(gateway_options) as gateway:
        server = await routable(gateway, namespace, "alpha")
        before = await server_metrics(server)
        body = {
            "model": "alpha",
            "messages": QUESTION,
            "max_tokens": long_answer,
            "ignore_eos": True,  # llama.cpp: keep generating to max_tokens
            "stream": True,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", json=body) as response,
        ):
            await response.content.readuntil(b"\n\n")
            busy = (await server_metrics(server))["llamacpp:requests_processing"]
        # The session is closed: the client hung up in the middle of the answer.

        async def slot_free() -> dict[str, float] | None:
            metrics = await server_metrics(server)
            return metrics if metrics["llamacpp:requests_processing"] == 0 else None

        after = await eventually(slot_free, within=60, what="the server's slot freed")

    assert busy == 1
    predicted = after["llamacpp:tokens_predicted_total"] - before["llamacpp:tokens_predicted_total"]
    assert predicted < long_answer


async def test_a_burst_beyond_slots_and_queue_is_shed_and_every_accepted_request_answered(
    kube: KubeClient,
    namespace: str,
    served_model: str,
    agent_options: AgentOptions,
    gateway_options: GatewayOptions,
) -> None:
    burst = 12
    await create_service(kube, namespace, "tiny", slots=1)
    options = attrs.evolve(gateway_options, queue_size=2)
    outcomes: list[tuple[int, Any]] = []
    async with running_agent(agent_options), running_gateway(options) as gateway:
        await routable(gateway, namespace, "tiny")
        client = client_for(gateway)

        async def one() -> None:
            try:
                answer = await client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=32)
                outcomes.append((200, answer.choices[0].message.content))
            except openai.APIStatusError as exc:
                outcomes.append((exc.status_code, (exc.response.json(), exc.response.headers)))

        with anyio.fail_after(300):  # nothing may hang
            async with anyio.create_task_group() as tg:
                for _ in range(burst):
                    tg.start_soon(one)
        refused = sample(gateway, "llmkube_gateway_requests_total", namespace, "tiny", code="429")

    codes = sorted(code for code, _ in outcomes)
    assert len(outcomes) == burst
    assert set(codes) == {200, 429}
    assert all(text for code, text in outcomes if code == 200)
    shed = [detail for code, detail in outcomes if code == 429]
    assert all(body["error"]["code"] == "rate_limit_exceeded" for body, _ in shed)
    assert all(int(headers["retry-after"]) >= 1 for _, headers in shed)
    assert refused == len(shed)
