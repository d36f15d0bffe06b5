"""The client reads the proxy variables once, as client-go does, and nothing from the environment per request."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from controller.kube import KubeClient
from controller.kube.resources import NAMESPACES
from controller.kube.session import proxy_from_environment
from tests.unit.kube.loopback_api import namespace_server, write_kubeconfig

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_variables_means_no_proxy() -> None:
    assert proxy_from_environment("https://10.96.0.1:443") is None


def test_https_proxy_serves_an_https_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert proxy_from_environment("https://api.example:6443") == "http://proxy.corp:3128"
    assert proxy_from_environment("http://api.example:8080") is None, "HTTPS_PROXY is for https only"


def test_no_proxy_lists_hosts_that_are_reached_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "10.96.0.1,.cluster.local")
    assert proxy_from_environment("https://10.96.0.1:443") is None
    assert proxy_from_environment("https://kubernetes.default.svc.cluster.local") is None
    assert proxy_from_environment("https://api.example:6443") == "http://proxy.corp:3128"


async def test_requests_go_through_the_proxy_the_environment_named_at_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "proxy" is a loopback server that answers itself; the API server's address is never dialled."""
    seen: list[web.Request] = []
    # An address in TEST-NET-1 (RFC 5737): the request can only succeed through the proxy.
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://192.0.2.1:8080")
    async with namespace_server(seen) as proxy_port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
            monkeypatch.delenv("HTTP_PROXY")  # read once: a later change does not move the client
            obj = await kube.get(NAMESPACES, "a")
    assert obj["metadata"]["name"] == "a"
    assert [str(request.url) for request in seen] == ["http://192.0.2.1:8080/api/v1/namespaces/a"]


async def test_the_session_does_not_read_the_environment_per_request(tmp_path: Path) -> None:
    seen: list[web.Request] = []
    async with namespace_server(seen) as port:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
        async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
            session = kube._rest.pool_manager
            assert session.trust_env is False
            await kube.get(NAMESPACES, "a")
    assert len(seen) == 1
