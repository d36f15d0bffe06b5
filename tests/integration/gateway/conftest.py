"""Fixtures for the gateway on the local control plane: the host agent serving real llama-servers (SmolLM2),
the InferenceService controller reporting phases, and the gateway as a local process in front of them.

The agent's fixtures (CRDs, the model over loopback HTTP, its cache) are shared with the agent tests.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.kube import KubeClient, NotFound
from controller.kube.resources import NAMESPACES
from hack.llama import llama_server_binary
from llmkube.agent import AgentOptions, PortRange
from llmkube.gateway import GatewayOptions
from tests.integration.agent.conftest import (  # noqa: F401 - fixtures shared with the agent tests
    agent_cache,
    crds,
    gguf_file,
    gguf_sha256,
    kube,
    kubeconfig_file,
    model_url,
    served_model,
)

#: Ports for the agent's llama-servers, apart from the agent tests' own range.
GATEWAY_TEST_PORTS = PortRange(first=18900, last=18999)


@pytest.fixture
async def namespace(kube: KubeClient, crds: None) -> AsyncIterator[str]:  # noqa: F811 - our own namespace
    name = f"gw-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, {"metadata": {"name": name}})
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


@pytest.fixture
def agent_options(kubeconfig_file: Path, agent_cache: Path, namespace: str) -> AgentOptions:  # noqa: F811
    return AgentOptions(
        namespaces=(namespace,),
        kubeconfig=kubeconfig_file,
        cache_dir=agent_cache,
        llama_server=llama_server_binary(),
        host_address="127.0.0.1",
        port_range=GATEWAY_TEST_PORTS,
        host_name="test-host",
        health_port=0,
        health_interval=0.5,
        stop_grace=5.0,
        startup_timeout=120.0,
        restart_backoff_initial=0.5,
    )


@pytest.fixture
def gateway_options(kubeconfig_file: Path, namespace: str) -> GatewayOptions:  # noqa: F811
    return GatewayOptions(
        namespaces=(namespace,),
        kubeconfig=kubeconfig_file,
        host="127.0.0.1",
        port=0,
        health_host="127.0.0.1",
        health_port=0,
        log_level="warning",
    )
