"""Helpers for the host agent tests: running an agent in-process, creating services, reading /proc."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from controller.kube import KubeClient
from controller.kube.resources import INFERENCE_SERVICES
from llmkube.agent import AgentOptions, PortRange, run_agent
from llmkube.agent.leftovers import STATE_FILE

MODEL_NAME = "smollm2"
SERVICE_NAME = "chat"
TEST_PORTS = PortRange(first=18800, last=18899)


async def eventually(
    predicate: Callable[[], Awaitable[Any]], *, within: float = 90.0, what: str = "condition"
) -> Any:
    """Poll an async `predicate` until it returns something truthy; the state lives in the apiserver or /proc."""
    last: Any = None
    with anyio.move_on_after(within):
        while True:
            last = await predicate()
            if last:
                return last
            await anyio.sleep(0.2)
    raise AssertionError(f"{what} not reached within {within:.0f}s (last: {last!r})")


@contextlib.asynccontextmanager
async def running_agent(options: AgentOptions) -> AsyncIterator[None]:
    """The agent in-process; leaving the block cancels it, which is its graceful shutdown."""
    async with anyio.create_task_group() as tg:
        await tg.start(functools.partial(run_agent, options))
        yield
        tg.cancel_scope.cancel()


async def create_service(
    kube: KubeClient, namespace: str, *, context_size: int = 256, extra_args: list[str] | None = None
) -> dict[str, Any]:
    extra = {"extraArgs": extra_args} if extra_args else {}
    return await kube.create(
        INFERENCE_SERVICES,
        {
            "apiVersion": INFERENCE_SERVICES.api_version,
            "kind": INFERENCE_SERVICES.kind,
            "metadata": {"name": SERVICE_NAME, "namespace": namespace},
            "spec": {
                "modelRef": {"name": MODEL_NAME},
                "accelerator": {"type": "host"},
                "contextSize": context_size,
                "parallelSlots": 1,
                "endpoint": {"port": 8080},
                **extra,
            },
        },
    )


def host_serving(isvc: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (isvc.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "HostServing":
            return dict(condition)
    return None


async def wait_for_host_serving(
    kube: KubeClient,
    namespace: str,
    *,
    reason: str = "Serving",
    generation: int | None = None,
    within: float = 120.0,
) -> dict[str, Any]:
    """The HostServing condition once it has `reason` (for `generation` of the spec, when given)."""

    async def reached() -> dict[str, Any] | None:
        condition = host_serving(await kube.get(INFERENCE_SERVICES, SERVICE_NAME, namespace=namespace))
        if condition is None or condition.get("reason") != reason:
            return None
        if generation is not None and condition.get("observedGeneration") != generation:
            return None
        return condition

    found: dict[str, Any] = await eventually(reached, within=within, what=f"HostServing reason {reason}")
    return found


def recorded_pids(cache_dir: Path) -> dict[str, int]:
    try:
        data = json.loads((cache_dir / ".agent" / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {key: int(entry["pid"]) for key, entry in (data.get("servers") or {}).items()}


def servers_using(cache_dir: Path) -> list[int]:
    """Every live llama-server on this machine whose model lies in `cache_dir` (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if (
            state != "Z"
            and cmdline
            and cmdline[0].endswith(b"llama-server")
            and str(cache_dir).encode() in b" ".join(cmdline)
        ):
            found.append(int(proc.name))
    return found


def command_line(pid: int) -> list[str]:
    try:
        return [part.decode() for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]
    except OSError:
        return []
