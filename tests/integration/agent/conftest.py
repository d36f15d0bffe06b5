"""Fixtures for the host agent against the embedded control plane, a real llama-server and SmolLM2.

The model reaches the agent's fetcher from a local aiohttp file server on 127.0.0.1, so nothing leaves the
machine; the agent's cache is shared by the session, so the file is downloaded once and then reused (which also
exercises the fetcher's cache reuse).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from controller.kube import KubeClient, NotFound
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, MODELS, NAMESPACES
from hack.llama import llama_server_binary, smollm2_gguf
from llmkube.agent import AgentOptions
from tests.integration.agent.helpers import MODEL_NAME, TEST_PORTS, eventually
from tests.integration.namespaces import restricted_namespace

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "config" / "crd" / "bases"


@pytest.fixture(scope="session")
def kubeconfig_file(local_cluster: Any) -> Path:
    return Path(local_cluster.kubeconfig)


@pytest.fixture
async def kube(kubeconfig_file: Path) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig_file) as client:
        yield client


@pytest.fixture
async def crds(kube: KubeClient) -> None:
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        await kube.apply(CUSTOM_RESOURCE_DEFINITIONS, crd, field_manager="agent-tests")

    async def established() -> bool:
        for path in CRD_DIR.glob("*.yaml"):
            crd = await kube.get(
                CUSTOM_RESOURCE_DEFINITIONS, yaml.safe_load(path.read_text())["metadata"]["name"]
            )
            conditions = crd.get("status", {}).get("conditions") or []
            if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return False
        return True

    await eventually(established, within=30, what="CRDs established")


@pytest.fixture
async def namespace(kube: KubeClient, crds: None) -> AsyncIterator[str]:
    name = f"agent-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


@pytest.fixture(scope="session")
def gguf_file() -> Path:
    return smollm2_gguf()


@pytest.fixture(scope="session")
def gguf_sha256(gguf_file: Path) -> str:
    digest = hashlib.sha256()
    with open(gguf_file, "rb") as handle:
        for chunk in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
async def model_url(gguf_file: Path) -> AsyncIterator[str]:
    """The GGUF over http from 127.0.0.1 (FileResponse answers Range requests, as a real CDN does)."""
    app = web.Application()

    async def serve(_: web.Request) -> web.FileResponse:
        return web.FileResponse(gguf_file)

    app.router.add_get(f"/{gguf_file.name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/{gguf_file.name}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
def agent_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent-cache")


@pytest.fixture
def agent_options(kubeconfig_file: Path, agent_cache: Path, namespace: str) -> AgentOptions:
    return AgentOptions(
        namespaces=(namespace,),
        kubeconfig=kubeconfig_file,
        cache_dir=agent_cache,
        llama_server=llama_server_binary(),
        host_address="127.0.0.1",
        port_range=TEST_PORTS,
        host_name="test-host",
        health_port=0,
        health_interval=0.5,
        stop_grace=5.0,
        startup_timeout=120.0,
        restart_backoff_initial=0.5,
    )


@pytest.fixture
async def served_model(kube: KubeClient, namespace: str, model_url: str, gguf_sha256: str) -> str:
    """A Model made Ready by hand: the agent fetches by itself, so no Model reconciler is needed."""
    await kube.create(
        MODELS,
        {
            "apiVersion": MODELS.api_version,
            "kind": MODELS.kind,
            "metadata": {"name": MODEL_NAME, "namespace": namespace},
            "spec": {"source": {"url": model_url}, "sha256": gguf_sha256},
        },
    )
    await kube.patch_status(MODELS, MODEL_NAME, {"status": {"phase": "Ready"}}, namespace=namespace)
    return MODEL_NAME
