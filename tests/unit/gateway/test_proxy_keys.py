"""The proxy and services that require an API key: who must show it, what goes upstream, and that the key itself
never comes back in an answer. Stand-in servers on loopback (the real llama-server with --api-key-file is in
tests/integration/gateway/test_api_key.py)."""

from __future__ import annotations

import aiohttp
import attrs
from prometheus_client import generate_latest

from api.v1alpha1.meta import SecretKeyRef
from llmkube.gateway.options import GatewayOptions
from llmkube.gateway.proxy import upstream_headers
from llmkube.gateway.routes import Route
from tests.unit.gateway.fake_upstream import FakeUpstream
from tests.unit.gateway.test_proxy import OPTIONS, running_gateway, served_by

KEY = "sk-service-key"
BODY = {"model": "chat", "messages": []}


class SecretKeys:
    """Keys as ServiceKeys would read them from the Secrets, minus the API server; counts what was forgotten."""

    def __init__(self, keys: tuple[str, ...] = (KEY,)) -> None:
        self.keys = keys
        self.forgotten = 0

    async def keys_for(self, route: Route) -> tuple[str, ...] | None:
        return self.keys if route.api_key is not None else None

    def forget(self, route: Route) -> None:
        self.forgotten += 1


def keyed(upstream: FakeUpstream) -> Route:
    return attrs.evolve(served_by(upstream), api_key=SecretKeyRef(name="chat-key", key="apiKey"))


async def post(url: str, *, authorization: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/v1/chat/completions", json=BODY, headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_a_client_without_the_services_key_gets_a_401_and_reaches_no_server(
    upstream: FakeUpstream,
) -> None:
    async with running_gateway(keyed(upstream), keys=SecretKeys()) as gateway:
        status, body = await post(gateway.url, authorization="Bearer sk-wrong")

    assert status == 401
    assert '"code": "invalid_api_key"' in body
    assert upstream.seen == []


async def test_a_client_with_the_key_is_answered_and_the_server_gets_the_key_from_the_secret(
    upstream: FakeUpstream,
) -> None:
    upstream.required_key = KEY
    keys = SecretKeys(keys=(KEY, "sk-second"))
    async with running_gateway(keyed(upstream), keys=keys) as gateway:
        status, _ = await post(gateway.url, authorization="Bearer sk-second")

    assert status == 200
    assert upstream.seen[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_a_gateway_that_trusts_its_clients_sends_the_key_for_them(upstream: FakeUpstream) -> None:
    upstream.required_key = KEY
    options = attrs.evolve(OPTIONS, trust_clients=True)
    async with running_gateway(keyed(upstream), keys=SecretKeys(), options=options) as gateway:
        status, _ = await post(gateway.url)

    assert status == 200


async def test_a_clients_authorization_never_reaches_a_service_without_a_key(upstream: FakeUpstream) -> None:
    async with running_gateway(served_by(upstream), keys=SecretKeys()) as gateway:
        status, _ = await post(gateway.url, authorization="Bearer sk-meant-for-another-service")

    assert status == 200
    assert "Authorization" not in upstream.seen[0].headers


async def test_a_key_the_server_refuses_is_a_502_naming_the_secret_and_is_read_again(
    upstream: FakeUpstream,
) -> None:
    upstream.required_key = "sk-rotated"
    keys = SecretKeys()
    async with running_gateway(keyed(upstream), keys=keys) as gateway:
        status, body = await post(gateway.url, authorization=f"Bearer {KEY}")
        metrics = generate_latest(gateway.registry).decode()

    assert status == 502
    assert "Secret 'chat-key' key 'apiKey'" in body
    assert KEY not in body
    assert KEY not in metrics
    assert keys.forgotten == 1


def test_upstream_headers_keep_content_headers_and_replace_authorization() -> None:
    client = {"Content-Type": "application/json", "Authorization": "Bearer sk-client", "Cookie": "a=b"}

    assert upstream_headers(client, api_key=None, stream=False) == {"Content-Type": "application/json"}
    assert upstream_headers(client, api_key=KEY, stream=True) == {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {KEY}",
        "Connection": "close",
    }


def test_trusting_clients_is_off_unless_asked_for() -> None:
    assert GatewayOptions().trust_clients is False
