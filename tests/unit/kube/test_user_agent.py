"""Every request names its program, so the API server's audit log and request metrics can tell it apart."""

from __future__ import annotations

from pathlib import Path

import yaml
from aiohttp import web

from controller.config import CONTROLLER_PROGRAM
from controller.kube import KubeClient, user_agent
from controller.kube.resources import NAMESPACES


async def test_requests_carry_the_user_agent_the_program_names(tmp_path: Path) -> None:
    seen: list[str] = []

    async def namespace(request: web.Request) -> web.Response:
        seen.append(request.headers.get("User-Agent", ""))
        return web.json_response({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/a", namespace)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "current-context": "t",
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "t", "user": {"token": "x"}}],
            }
        )
    )
    try:
        async with KubeClient.connect(
            kubeconfig=kubeconfig, user_agent=user_agent(CONTROLLER_PROGRAM)
        ) as client:
            await client.get(NAMESPACES, "a")
    finally:
        await runner.cleanup()
    assert seen == [user_agent(CONTROLLER_PROGRAM)]
    assert seen[0].startswith("llmkube-controller/")
