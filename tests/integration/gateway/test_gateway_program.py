"""`llmkube-gateway` as an operator runs it outside the cluster: the installed program with a kubeconfig."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from controller.kube import KubeClient
from hack.llama_fixture import free_loopback_port
from tests.integration.agent.helpers import eventually
from tests.integration.gateway.stack import create_service

GATEWAY = str(Path(sys.executable).parent / "llmkube-gateway")


async def get(url: str) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.text()
    except aiohttp.ClientError:
        return 0, ""


@pytest.fixture
def gateway_process(kubeconfig_file: Path, namespace: str) -> Any:
    port, health = free_loopback_port(), free_loopback_port()
    process = subprocess.Popen(
        [
            GATEWAY,
            f"--kubeconfig={kubeconfig_file}",
            f"--namespace={namespace}",
            f"--bind-address=127.0.0.1:{port}",
            f"--health-bind-address=127.0.0.1:{health}",
            "--log-level=warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port, health
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def test_the_installed_program_serves_models_probes_and_metrics_and_stops_on_sigterm(
    kube: KubeClient, namespace: str, gateway_process: Any
) -> None:
    process, port, health = gateway_process
    await create_service(kube, namespace, "listed", replicas=0, idle_seconds=60)

    async def ready() -> bool:
        return (await get(f"http://127.0.0.1:{health}/readyz"))[0] == 200

    await eventually(ready, within=60, what="/readyz")

    async def listed() -> str | None:
        status, text = await get(f"http://127.0.0.1:{port}/v1/models")
        return text if status == 200 and '"listed"' in text else None

    models = await eventually(listed, within=30, what="the service in /v1/models")
    live = await get(f"http://127.0.0.1:{health}/healthz")
    metrics = await get(f"http://127.0.0.1:{health}/metrics")
    os.kill(process.pid, signal.SIGTERM)
    code = process.wait(timeout=60)

    assert '"phase": "ScaledToZero"' in models
    assert live == (200, "ok")
    assert "llmkube_gateway_capacity" in metrics[1]
    assert code == 0, process.stderr.read()
