"""The host agent end to end: a real control plane, a real llama-server, the real SmolLM2 model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from controller.kube import KubeClient, NotFound
from controller.kube.resources import ENDPOINT_SLICES, INFERENCE_SERVICES, SERVICES
from llmkube.agent import AgentOptions
from llmkube.agent.leftovers import is_alive
from tests.integration.agent.helpers import (
    SERVICE_NAME,
    command_line,
    create_service,
    eventually,
    host_serving,
    recorded_pids,
    running_agent,
    servers_using,
    wait_for_host_serving,
)

pytestmark = pytest.mark.llama

SLICE_NAME = f"{SERVICE_NAME}-host"


def flag_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


async def serving_pid(options: AgentOptions) -> int:
    pids = recorded_pids(options.cache_dir)
    return pids[next(iter(pids))]


async def slice_endpoint(kube: KubeClient, namespace: str) -> tuple[str, int, bool]:
    """What a client dials: the exact address annotation (the slice itself holds an FQDN stand-in for loopback)."""
    found = await kube.get(ENDPOINT_SLICES, SLICE_NAME, namespace=namespace)
    endpoint = found["endpoints"][0]
    address = found["metadata"]["annotations"]["inference.llmkube.dev/address"]
    return address, found["ports"][0]["port"], endpoint["conditions"]["ready"]


async def gone(kube: KubeClient, resource: Any, name: str, namespace: str) -> bool:
    try:
        await kube.get(resource, name, namespace=namespace)
    except NotFound:
        return True
    return False


async def test_serves_a_completion_through_the_endpoint_slice(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    await create_service(kube, namespace)
    async with running_agent(agent_options):
        condition = await wait_for_host_serving(kube, namespace)
        address, port, ready = await slice_endpoint(kube, namespace)
        service = await kube.get(SERVICES, SERVICE_NAME, namespace=namespace)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://{address}:{port}/v1/completions",
                json={"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0},
            ) as response,
        ):
            body = await response.json()

    assert (address, ready) == ("127.0.0.1", True)
    assert f"http://127.0.0.1:{port}/v1" in condition["message"]
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"][0]["port"] == 8080
    assert response.status == 200, body
    assert body["choices"][0]["text"]


async def test_records_what_its_llama_server_allocated_in_status_memory(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    # llama-server logs its buffer lines from verbosity 4 on.
    await create_service(kube, namespace, extra_args=["--verbosity", "4"])
    async with running_agent(agent_options):
        await wait_for_host_serving(kube, namespace)

        async def allocated() -> dict[str, Any] | None:
            isvc = await kube.get(INFERENCE_SERVICES, SERVICE_NAME, namespace=namespace)
            found = ((isvc.get("status") or {}).get("memory") or {}).get("allocated")
            return dict(found) if found else None

        memory = await eventually(allocated, within=30, what="status.memory.allocated")

    assert memory["weightsBytes"] > 0
    assert memory["kvBytes"] > 0
    assert memory["totalBytes"] >= memory["weightsBytes"] + memory["kvBytes"] + memory["computeBytes"]
    assert "CPU" in memory["devices"]


async def test_restarts_a_killed_server_and_is_ready_again(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    await create_service(kube, namespace)
    async with running_agent(agent_options):
        await wait_for_host_serving(kube, namespace)
        first = await serving_pid(agent_options)
        os.kill(first, signal.SIGKILL)

        async def restarted() -> int | None:
            pid = next(iter(recorded_pids(agent_options.cache_dir).values()), None)
            return pid if pid not in (None, first) else None

        second = await eventually(restarted, within=30, what="a restarted server")

        async def serving_again() -> bool:
            # The crash may not be reported yet: both the condition and the slice must say serving.
            condition = host_serving(await kube.get(INFERENCE_SERVICES, SERVICE_NAME, namespace=namespace))
            _, _, ready = await slice_endpoint(kube, namespace)
            return ready and condition is not None and condition.get("reason") == "Serving"

        await eventually(serving_again, within=60, what="Serving and a ready endpoint again")

    assert second != first


async def test_context_size_change_restarts_the_server_with_the_new_flag(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    await create_service(kube, namespace, context_size=256)
    async with running_agent(agent_options):
        await wait_for_host_serving(kube, namespace)
        first = await serving_pid(agent_options)
        await kube.merge_patch(
            INFERENCE_SERVICES, SERVICE_NAME, {"spec": {"contextSize": 512}}, namespace=namespace
        )

        async def restarted() -> int | None:
            pids = recorded_pids(agent_options.cache_dir)
            pid = next(iter(pids.values()), None)
            return pid if pid not in (None, first) else None

        second = await eventually(restarted, within=60, what="a new server")
        # The new server may be up before the agent has reported the new generation at all.
        condition = await wait_for_host_serving(kube, namespace, generation=2)
        args = command_line(second)

    assert flag_value(args, "--ctx-size") == "512"
    assert not is_alive(first)
    assert condition["observedGeneration"] == 2


async def test_deleting_the_service_stops_its_server_and_removes_service_and_slice(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    await create_service(kube, namespace)
    async with running_agent(agent_options):
        await wait_for_host_serving(kube, namespace)
        pid = await serving_pid(agent_options)
        await kube.delete(INFERENCE_SERVICES, SERVICE_NAME, namespace=namespace)

        async def cleaned_up() -> bool:
            return (
                not is_alive(pid)
                and await gone(kube, SERVICES, SERVICE_NAME, namespace)
                and await gone(kube, ENDPOINT_SLICES, SLICE_NAME, namespace)
            )

        await eventually(cleaned_up, within=30, what="server, Service and EndpointSlice gone")


async def test_a_graceful_stop_ends_the_server_and_reports_agent_stopped(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions
) -> None:
    await create_service(kube, namespace)
    async with running_agent(agent_options):
        await wait_for_host_serving(kube, namespace)
        pid = await serving_pid(agent_options)

    condition = await wait_for_host_serving(kube, namespace, reason="AgentStopped", within=5)
    assert not is_alive(pid)
    assert condition["status"] == "False"
    assert await gone(kube, ENDPOINT_SLICES, SLICE_NAME, namespace)


async def test_an_agent_restarted_after_a_crash_leaves_no_duplicate_servers(
    kube: KubeClient, namespace: str, served_model: str, agent_options: AgentOptions, kubeconfig_file: Path
) -> None:
    await create_service(kube, namespace)
    options = agent_options
    argv = [
        sys.executable,
        "-m",
        "llmkube.agent",
        f"--namespace={namespace}",
        f"--kubeconfig={kubeconfig_file}",
        f"--cache-dir={options.cache_dir}",
        f"--llama-server={options.llama_server}",
        "--host-address=127.0.0.1",
        f"--port-range={options.port_range}",
        "--health-port=0",
        "--log-level=warning",
    ]
    crashed_agent = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220 - killed, never awaited
    try:
        await wait_for_host_serving(kube, namespace)
        orphan = await serving_pid(options)
    finally:
        crashed_agent.kill()  # no chance to stop its server: that is the point
        crashed_agent.wait()
    assert is_alive(orphan), "the server must outlive its agent for this test to mean anything"

    async with running_agent(options):

        async def replaced() -> int | None:
            pids = recorded_pids(options.cache_dir)
            pid = next(iter(pids.values()), None)
            return pid if pid not in (None, orphan) else None

        fresh = await eventually(replaced, within=60, what="a server started by the new agent")
        await wait_for_host_serving(kube, namespace)
        await anyio.sleep(1.0)  # a duplicate would have started by now
        running = servers_using(options.cache_dir)

    assert running == [fresh]
    assert not is_alive(orphan)
