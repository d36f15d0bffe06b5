from __future__ import annotations

from controller.builders.labels import selector_labels
from controller.builders.service import desired_service, service_endpoint
from tests.unit.builders.conftest import isvc_from


def test_service_is_named_by_the_sanitised_service_name() -> None:
    assert desired_service(isvc_from({}, name="llama-3.2-3b"))["metadata"]["name"] == "llama-3-2-3b"


def test_service_type_and_port_follow_the_endpoint_spec() -> None:
    spec = desired_service(isvc_from({"endpoint": {"port": 9000, "type": "NodePort"}}))["spec"]
    assert spec["type"] == "NodePort"
    assert spec["ports"] == [{"name": "http", "port": 9000, "targetPort": "http", "protocol": "TCP"}]


def test_service_selects_the_pods_by_their_selector_labels() -> None:
    assert desired_service(isvc_from({}, name="chat"))["spec"]["selector"] == selector_labels("chat")


def test_endpoint_is_the_in_cluster_openai_base_url() -> None:
    isvc = isvc_from(
        {"endpoint": {"port": 8080, "type": "LoadBalancer"}}, name="llama-3.2-3b", namespace="ml"
    )
    assert service_endpoint(isvc) == "http://llama-3-2-3b.ml.svc.cluster.local:8080/v1"
