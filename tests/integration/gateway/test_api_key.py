"""A service that requires an API key (spec.apiKeySecretRef) behind the gateway: the installed `llmkube-gateway`
program on the local control plane reads the key from the Secret and presents it to the real llama-server,
started with `--api-key-file` as the operator starts it; the client is the real `openai` package.

This cluster's nodes are fake (kwok) and run no containers, so no pod serves the service here: the test writes
the EndpointSlice the endpointslice controller would write for the service's pod, pointing at the real
llama-server on loopback the way the host agent publishes its own servers (loopback is not a valid slice address,
so an FQDN stand-in with the exact address in an annotation). The same path with real pods on the real
node is in e2e/install.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from api.v1alpha1.well_known import ADDRESS_ANNOTATION, APP_NAME, NAME_LABEL
from controller.kube import KubeClient
from controller.kube.resources import ENDPOINT_SLICES, INFERENCE_SERVICES, SECRETS
from hack.llama_fixture import free_loopback_port, running_llama_server
from llmkube.agent.publisher import slice_address
from llmkube.gateway.routes import SERVICE_NAME_LABEL
from tests.integration.agent.helpers import eventually

pytestmark = pytest.mark.llama

GATEWAY = str(Path(sys.executable).parent / "llmkube-gateway")
KEY = f"sk-{secrets.token_hex(16)}"
QUESTION = [{"role": "user", "content": "Name a colour."}]

Gateway = Callable[..., tuple[str, str, Path]]


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-server named `keyed`, reading KEY from a file readable by its group only, as in a pod."""
    key_file = tmp_path_factory.mktemp("api-key") / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o440)
    args = (
        "--alias",
        "keyed",
        "--metrics",
        "--ctx-size",
        "2048",
        "--parallel",
        "2",
        "--api-key-file",
        str(key_file),
    )
    with running_llama_server(extra_args=args) as base_url:
        yield base_url


@pytest.fixture
def gateway(kubeconfig_file: Path, namespace: str, tmp_path: Path) -> Iterator[Gateway]:
    """Starts the installed program (at most once per test) with extra flags; (API URL, metrics URL, log file).
    Its log is at debug level, so a key that reached any log line would be in the file."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> tuple[str, str, Path]:
        port, health = free_loopback_port(), free_loopback_port()
        log = tmp_path / "gateway.log"
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        GATEWAY,
                        f"--kubeconfig={kubeconfig_file}",
                        f"--namespace={namespace}",
                        f"--bind-address=127.0.0.1:{port}",
                        f"--health-bind-address=127.0.0.1:{health}",
                        "--log-level=debug",
                        *flags,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        return f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{health}/metrics", log

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=60)


async def keyed_service(
    kube: KubeClient, namespace: str, name: str, *, server: str, secret: str, value: str | None
) -> None:
    """An InferenceService whose key is in `secret` (created holding `value` unless None) and whose one ready
    endpoint is `server`."""
    if value is not None:
        await kube.create(
            SECRETS,
            {
                "metadata": {"name": secret, "namespace": namespace},
                "data": {"apiKey": base64.b64encode(value.encode()).decode()},
            },
        )
    await kube.create(
        INFERENCE_SERVICES,
        {
            "apiVersion": INFERENCE_SERVICES.api_version,
            "kind": INFERENCE_SERVICES.kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "modelRef": {"name": "smollm2"},
                "accelerator": {"type": "cpu"},
                "apiKeySecretRef": {"name": secret, "key": "apiKey"},
            },
        },
    )
    host, _, port = server.removeprefix("http://").rpartition(":")
    address_type, published = slice_address(host)
    await kube.create(
        ENDPOINT_SLICES,
        {
            "apiVersion": ENDPOINT_SLICES.api_version,
            "kind": ENDPOINT_SLICES.kind,
            "metadata": {
                "name": f"{name}-pod",
                "namespace": namespace,
                "labels": {SERVICE_NAME_LABEL: name, NAME_LABEL: APP_NAME},
                "annotations": {ADDRESS_ANNOTATION: host},
            },
            "addressType": address_type,
            "endpoints": [{"addresses": [published], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": int(port), "protocol": "TCP"}],
        },
    )


async def routed(api: str, *names: str) -> None:
    async def listed() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(api + "/models") as response:
                models = (await response.json())["data"] if response.status == 200 else []
        except aiohttp.ClientError:
            return False
        ready = {m["id"] for m in models if m["ready_replicas"] == 1}
        return set(names) <= ready

    await eventually(listed, within=60, what=f"{names} routable through the gateway")


def client(api: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=api, api_key=key, max_retries=0)


def direct_status(server: str) -> int:
    request = urllib.request.Request(
        server + "/v1/chat/completions",
        data=b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}',
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def test_a_client_with_the_services_key_is_answered_and_one_without_gets_a_401(
    kube: KubeClient, namespace: str, keyed_server: str, gateway: Gateway
) -> None:
    await keyed_service(kube, namespace, "keyed", server=keyed_server, secret="keyed-key", value=KEY)
    api, metrics, log = gateway()
    await routed(api, "keyed")

    answer = await client(api, KEY).chat.completions.create(model="keyed", messages=QUESTION, max_tokens=8)
    with pytest.raises(openai.AuthenticationError) as refused:
        await client(api, "sk-guess").chat.completions.create(model="keyed", messages=QUESTION, max_tokens=8)

    assert direct_status(keyed_server) == 401  # the server itself requires the key
    assert answer.model == "keyed"
    assert answer.choices[0].message.content
    assert refused.value.code == "invalid_api_key"
    assert KEY not in metrics_text(metrics)
    assert KEY not in log.read_text()


async def test_a_gateway_that_trusts_its_clients_answers_with_the_key_from_the_secret(
    kube: KubeClient, namespace: str, keyed_server: str, gateway: Gateway
) -> None:
    await keyed_service(kube, namespace, "keyed", server=keyed_server, secret="keyed-key", value=KEY)
    api, metrics, log = gateway("--trust-clients")
    await routed(api, "keyed")

    stream = await client(api, "unused").chat.completions.create(
        model="keyed", messages=QUESTION, max_tokens=8, stream=True
    )
    pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]

    assert pieces
    assert KEY not in metrics_text(metrics)
    assert KEY not in log.read_text()


async def test_a_secret_that_is_missing_or_holds_another_key_is_reported_without_any_key(
    kube: KubeClient, namespace: str, keyed_server: str, gateway: Gateway
) -> None:
    stale = f"sk-{secrets.token_hex(16)}"
    await keyed_service(kube, namespace, "stale", server=keyed_server, secret="stale-key", value=stale)
    await keyed_service(kube, namespace, "unkeyed", server=keyed_server, secret="absent", value=None)
    api, metrics, log = gateway("--trust-clients")
    await routed(api, "stale", "unkeyed")

    errors: dict[str, Any] = {}
    for model in ("stale", "unkeyed"):
        with pytest.raises(openai.APIStatusError) as raised:
            await client(api, "unused").chat.completions.create(model=model, messages=QUESTION, max_tokens=8)
        errors[model] = raised.value

    assert errors["stale"].status_code == 502
    assert "Secret 'stale-key' key 'apiKey'" in errors["stale"].message
    assert errors["unkeyed"].status_code == 503
    assert "Secret 'absent'" in errors["unkeyed"].message
    assert "does not exist" in errors["unkeyed"].message
    seen = (
        " ".join(str(e.body) + e.message for e in errors.values()) + metrics_text(metrics) + log.read_text()
    )
    assert stale not in seen
    assert KEY not in seen
