from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from llmkube.gateway.errors import GatewayError
from llmkube.gateway.metrics import GatewayMetrics
from llmkube.gateway.table import RouteTable
from tests.unit.gateway.conftest import route


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table(registry: CollectorRegistry, clock: Clock) -> RouteTable:
    return RouteTable(queue_limit=4, metrics=GatewayMetrics(registry), wall_clock=clock)


def test_a_model_resolves_by_its_bare_name(table: RouteTable) -> None:
    table.refresh("team-a/chat", route())
    assert table.resolve("chat").route.key == "team-a/chat"


def test_an_unknown_model_is_a_404_listing_what_is_served(table: RouteTable) -> None:
    table.refresh("team-a/chat", route())
    with pytest.raises(GatewayError) as caught:
        table.resolve("code")
    assert caught.value.status == 404
    assert "chat" in caught.value.message


def test_a_name_in_two_namespaces_needs_its_namespace(table: RouteTable) -> None:
    table.refresh("team-a/chat", route(namespace="team-a"))
    table.refresh("team-b/chat", route(namespace="team-b"))

    with pytest.raises(GatewayError) as caught:
        table.resolve("chat")
    assert caught.value.code == "model_ambiguous"
    assert table.resolve("team-b/chat").route.namespace == "team-b"
    assert table.model_id(route(namespace="team-b")) == "team-b/chat"


def test_a_removed_service_is_no_longer_routed(table: RouteTable) -> None:
    table.refresh("team-a/chat", route())
    table.refresh("team-a/chat", None)
    with pytest.raises(GatewayError):
        table.resolve("chat")


def test_capacity_follows_the_ready_replicas(table: RouteTable) -> None:
    table.refresh("team-a/chat", route(ready=1, slots=2))
    table.refresh("team-a/chat", route(ready=3, slots=2))
    assert table.resolve("chat").gate.capacity == 6


def test_a_replica_becoming_ready_ends_a_wake_and_records_its_duration(
    table: RouteTable, clock: Clock, registry: CollectorRegistry
) -> None:
    table.refresh("team-a/chat", route(ready=0, replicas=0, idle_seconds=60))
    state = table.resolve("chat")
    state.waking_since = clock.now
    clock.now += 12.5

    table.refresh("team-a/chat", route(ready=1, idle_seconds=60))

    assert state.last_wake_seconds == 12.5
    assert state.waking_since is None
    assert state.ready_since == clock.now
    labels = {"namespace": "team-a", "model": "chat"}
    assert registry.get_sample_value("llmkube_gateway_wake_seconds_count", labels) == 1


def test_waiters_are_admitted_when_a_replica_becomes_ready(table: RouteTable) -> None:
    table.refresh("team-a/chat", route(ready=0, replicas=1))
    ticket = table.resolve("chat").gate.arrive()

    table.refresh("team-a/chat", route(ready=1))

    assert ticket.admitted


def test_a_service_just_put_to_sleep_takes_no_requests_while_the_cache_still_lists_its_servers(
    table: RouteTable,
) -> None:
    table.refresh("team-a/chat", route(ready=1, idle_seconds=60, resource_version="5"))
    state = table.resolve("chat")

    state.fell_asleep(version="6", now=1000.0)
    table.refresh("team-a/chat", route(ready=1, idle_seconds=60, resource_version="5"))  # a stale event

    assert state.asleep
    assert state.gate.capacity == 0


def test_servers_of_a_service_at_zero_replicas_get_no_requests(table: RouteTable) -> None:
    table.refresh("team-a/chat", route(ready=1, replicas=0, idle_seconds=60))
    assert table.resolve("chat").gate.capacity == 0


def test_once_the_cache_shows_the_scale_down_the_service_follows_the_cache_again(table: RouteTable) -> None:
    table.refresh("team-a/chat", route(ready=1, idle_seconds=60, resource_version="5"))
    state = table.resolve("chat")
    state.fell_asleep(version="6", now=1000.0)

    table.refresh("team-a/chat", route(ready=0, replicas=0, idle_seconds=60, resource_version="6"))
    table.refresh("team-a/chat", route(ready=1, idle_seconds=60, resource_version="9"))

    assert state.asleep_version is None
    assert state.gate.capacity == 2


def test_load_gauges_are_read_from_the_gates_at_scrape_time(
    table: RouteTable, registry: CollectorRegistry
) -> None:
    table.refresh("team-a/chat", route(ready=1, slots=2))
    table.resolve("chat").gate.arrive()
    labels = {"namespace": "team-a", "model": "chat"}

    assert registry.get_sample_value("llmkube_gateway_capacity", labels) == 2
    assert registry.get_sample_value("llmkube_gateway_in_flight_requests", labels) == 1
    table.refresh("team-a/chat", None)
    assert registry.get_sample_value("llmkube_gateway_capacity", labels) is None
