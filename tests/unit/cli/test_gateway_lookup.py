from __future__ import annotations

from typing import Any

from llmkube.cli.gateway import gateway_url, http_port


def service(*ports: dict[str, Any], namespace: str = "llmkube-system") -> dict[str, Any]:
    return {"metadata": {"name": "llmkube-gateway", "namespace": namespace}, "spec": {"ports": list(ports)}}


def test_the_gateway_url_is_its_services_cluster_address_with_the_openai_root() -> None:
    found = service({"name": "metrics", "port": 8081}, {"name": "http", "port": 80})
    assert gateway_url(found) == "http://llmkube-gateway.llmkube-system.svc.cluster.local/v1"


def test_a_port_other_than_80_is_kept_in_the_url() -> None:
    assert gateway_url(service({"name": "http", "port": 8000})).endswith(".svc.cluster.local:8000/v1")


def test_the_http_port_is_preferred_over_the_first_one() -> None:
    assert http_port(service({"name": "metrics", "port": 8081}, {"name": "http", "port": 80}))["port"] == 80
