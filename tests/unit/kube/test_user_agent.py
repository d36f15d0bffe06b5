"""Every request names its program, so the API server's audit log and request metrics can tell it apart."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from controller.config import CONTROLLER_PROGRAM
from controller.kube import KubeClient, user_agent
from controller.kube.resources import NAMESPACES
from tests.unit.kube.loopback_api import namespace_server, write_kubeconfig


async def test_requests_carry_the_user_agent_the_program_names(tmp_path: Path) -> None:
    seen: list[web.Request] = []
    async with namespace_server(seen) as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
        async with KubeClient.connect(
            kubeconfig=kubeconfig, user_agent=user_agent(CONTROLLER_PROGRAM)
        ) as client:
            await client.get(NAMESPACES, "a")
    agents = [request.headers.get("User-Agent", "") for request in seen]
    assert agents == [user_agent(CONTROLLER_PROGRAM)]
    assert agents[0].startswith("llmkube-controller/")
