from __future__ import annotations

from typing import Any

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from llmkube.agent.publisher import contains, desired_endpoint_slice, desired_service

ISVC = from_wire(
    {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "llama-3.2", "namespace": "ns", "uid": "u-1"},
        "spec": {"modelRef": {"name": "m"}, "accelerator": {"type": "metal"}, "endpoint": {"port": 8080}},
    },
    InferenceService,
)


def slice_for(address: str, *, ready: bool = True) -> dict[str, Any]:
    return desired_endpoint_slice(ISVC, address=address, port=18081, ready=ready, host="mac-1")


def test_the_service_has_the_reconcilers_name_and_no_selector() -> None:
    service = desired_service(ISVC, host="mac-1")
    assert service["metadata"]["name"] == "llama-3-2"
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"][0]["port"] == 8080


def test_both_objects_are_owned_by_the_inference_service() -> None:
    for obj in (desired_service(ISVC, host="mac-1"), slice_for("10.0.0.5")):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_the_slice_points_at_the_host_and_the_servers_real_port() -> None:
    found = slice_for("10.0.0.5")
    assert found["addressType"] == "IPv4"
    assert found["endpoints"][0]["addresses"] == ["10.0.0.5"]
    assert found["ports"][0]["port"] == 18081
    assert found["metadata"]["labels"]["kubernetes.io/service-name"] == "llama-3-2"


def test_a_loopback_host_is_published_as_an_fqdn_with_the_exact_address_annotated() -> None:
    found = slice_for("127.0.0.1")
    assert found["addressType"] == "FQDN"
    assert found["metadata"]["annotations"]["inference.llmkube.dev/address"] == "127.0.0.1"


def test_readiness_follows_the_health_check() -> None:
    assert slice_for("10.0.0.5", ready=False)["endpoints"][0]["conditions"]["ready"] is False


def test_server_defaults_do_not_count_as_a_difference() -> None:
    desired = desired_service(ISVC, host="mac-1")
    stored = {**desired, "spec": {**desired["spec"], "clusterIP": "10.96.0.7"}}
    stored["spec"]["ports"] = [{**desired["spec"]["ports"][0], "targetPort": 8080}]
    assert contains(stored, desired)


def test_a_changed_port_counts_as_a_difference() -> None:
    assert not contains(
        slice_for("10.0.0.5"),
        desired_endpoint_slice(ISVC, address="10.0.0.5", port=1, ready=True, host="mac-1"),
    )
