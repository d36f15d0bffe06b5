"""Which addresses `chat` tries before falling back to a port-forward, and the port-forward frame reader."""

from __future__ import annotations

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.well_known import ADDRESS_ANNOTATION
from controller.kube.portforward import DATA_CHANNEL, ERROR_CHANNEL, _ChannelReader
from llmkube.agent.publisher import desired_endpoint_slice
from llmkube.cli.resolver import Address, node_port_addresses, slice_addresses

PORT = {"name": "http", "port": 8080}


def _slice(*, ready: bool, annotation: str | None = None) -> dict[str, object]:
    return {
        "metadata": {"name": "s-host", "annotations": {ADDRESS_ANNOTATION: annotation} if annotation else {}},
        "endpoints": [{"addresses": ["agent.localhost"], "conditions": {"ready": ready}}],
        "ports": [{"name": "http", "port": 41000}],
    }


def test_the_annotation_matches_what_the_host_agent_writes() -> None:
    isvc = from_wire(
        {
            "apiVersion": "inference.llmkube.dev/v1alpha1",
            "kind": "InferenceService",
            "metadata": {"name": "mac", "namespace": "ns", "uid": "u-1"},
            "spec": {"modelRef": {"name": "m"}, "accelerator": {"type": "metal"}},
        },
        InferenceService,
    )
    published = desired_endpoint_slice(isvc, address="127.0.0.1", port=41000, ready=True, host="mac-1")
    addresses = slice_addresses([published], PORT)
    assert [(a.host, a.port) for a in addresses] == [("127.0.0.1", 41000), ("agent.localhost", 41000)]


def test_the_annotated_exact_address_is_tried_first() -> None:
    addresses = slice_addresses([_slice(ready=True, annotation="127.0.0.1")], PORT)
    assert [(a.host, a.port) for a in addresses] == [("127.0.0.1", 41000), ("agent.localhost", 41000)]


def test_endpoints_that_are_not_ready_are_skipped() -> None:
    assert slice_addresses([_slice(ready=False, annotation="127.0.0.1")], PORT) == []


def test_node_ports_use_internal_and_external_node_addresses() -> None:
    node = {
        "metadata": {"name": "n1"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.5"},
                {"type": "Hostname", "address": "n1"},
            ]
        },
    }
    (address,) = node_port_addresses([node], {"port": 8080, "nodePort": 30080})
    assert (address.host, address.port) == ("10.0.0.5", 30080)


def test_ipv6_addresses_are_bracketed_in_urls() -> None:
    assert Address(host="::1", port=80, via="x").url == "http://[::1]:80"


def test_the_port_prefix_is_stripped_from_the_first_frames_of_each_channel() -> None:
    reader = _ChannelReader()
    assert reader.payload(bytes([DATA_CHANNEL, 0x90, 0x1F])) == (DATA_CHANNEL, b"")
    assert reader.payload(bytes([ERROR_CHANNEL, 0x90])) == (ERROR_CHANNEL, b"")
    assert reader.payload(bytes([ERROR_CHANNEL, 0x1F]) + b"boom") == (ERROR_CHANNEL, b"boom")
    assert reader.payload(bytes([DATA_CHANNEL]) + b"HTTP/1.1") == (DATA_CHANNEL, b"HTTP/1.1")
