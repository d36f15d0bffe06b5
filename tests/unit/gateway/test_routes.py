from __future__ import annotations

from llmkube.gateway.routes import endpoints_of, route_of
from tests.unit.gateway.conftest import endpoint_slice, isvc, route


def test_ready_endpoints_of_every_slice_become_upstreams() -> None:
    ready, loading = endpoints_of(
        [endpoint_slice(("10.0.0.1", True)), endpoint_slice(("10.0.0.2", None), port=9000)]
    )
    assert [u.url for u in ready] == ["http://10.0.0.1:8080", "http://10.0.0.2:9000"]
    assert loading == 0


def test_an_endpoint_not_ready_and_not_terminating_is_loading() -> None:
    ready, loading = endpoints_of([endpoint_slice(("10.0.0.1", False))])
    assert (ready, loading) == ((), 1)


def test_a_terminating_endpoint_is_neither_ready_nor_loading() -> None:
    ready, loading = endpoints_of([endpoint_slice(("10.0.0.1", False), terminating=True)])
    assert (ready, loading) == ((), 0)


def test_the_host_agents_exact_address_wins_over_its_fqdn_stand_in() -> None:
    ready, _ = endpoints_of([endpoint_slice(("agent.localhost", True), exact="127.0.0.1", port=18801)])
    assert [u.key for u in ready] == ["127.0.0.1:18801"]


def test_ipv6_upstreams_are_bracketed_in_urls() -> None:
    ready, _ = endpoints_of([endpoint_slice(("fd00::1", True))])
    assert ready[0].url == "http://[fd00::1]:8080"


def test_capacity_is_slots_times_ready_replicas() -> None:
    built = route_of(isvc(parallelSlots=4), [endpoint_slice(("10.0.0.1", True), ("10.0.0.2", True))])
    assert built.capacity == 8


def test_slots_default_by_the_gpu_count_the_status_reports() -> None:
    obj = isvc(accelerator={"type": "nvidia"}) | {"status": {"gpuCount": 1}}
    assert route_of(obj, []).slots == 4
    assert route_of(isvc(), []).slots == 2


def test_scale_to_zero_and_the_shared_last_request_are_read() -> None:
    obj = isvc(scaleToZero={"idleSeconds": 30})
    obj["metadata"]["annotations"] = {"inference.llmkube.dev/last-request-time": "2026-01-01T00:00:10.500Z"}
    built = route_of(obj, [])
    assert built.idle_seconds == 30
    assert built.last_request == 1767225610.5


def test_a_replica_wanted_but_not_ready_is_still_loading() -> None:
    assert route(ready=0, replicas=1).still_loading
    assert route(ready=1, loading=1).still_loading
    assert not route(ready=1).still_loading


def test_a_failed_service_is_not_loading() -> None:
    assert not route(ready=0, replicas=1, phase="Failed").still_loading
