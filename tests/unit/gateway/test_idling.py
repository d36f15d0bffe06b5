from __future__ import annotations

from llmkube.gateway.idling import format_time, heartbeat_due, idle_since, scale_down_blocker
from llmkube.gateway.routes import parse_time
from tests.unit.gateway.conftest import route

NOW = 1_000_000.0


def test_an_idle_service_past_its_idle_period_goes_to_zero() -> None:
    assert scale_down_blocker(route(idle_seconds=60), busy=False, idle_since=NOW - 61, now=NOW) is None


def test_a_service_idle_for_less_than_its_period_stays() -> None:
    blocker = scale_down_blocker(route(idle_seconds=60), busy=False, idle_since=NOW - 59, now=NOW)
    assert blocker == "idle for 59.0s of 60s"


def test_a_request_in_flight_keeps_the_service_up() -> None:
    blocker = scale_down_blocker(route(idle_seconds=60), busy=True, idle_since=NOW - 600, now=NOW)
    assert blocker == "requests are in flight or waiting"


def test_a_replica_still_loading_keeps_the_service_up() -> None:
    loading = route(idle_seconds=60, ready=0, replicas=1)
    assert (
        scale_down_blocker(loading, busy=False, idle_since=NOW - 600, now=NOW) == "a replica is still loading"
    )


def test_a_service_that_does_not_opt_in_is_never_scaled_down() -> None:
    assert scale_down_blocker(route(), busy=False, idle_since=0, now=NOW) is not None


def test_a_service_at_zero_is_left_alone() -> None:
    at_zero = route(idle_seconds=60, ready=0, replicas=0)
    assert scale_down_blocker(at_zero, busy=False, idle_since=0, now=NOW) == "it is already at zero"


def test_a_failed_service_with_no_ready_replica_may_go_to_zero() -> None:
    failed = route(idle_seconds=60, ready=0, replicas=1, phase="Failed")
    assert scale_down_blocker(failed, busy=False, idle_since=NOW - 61, now=NOW) is None


def test_idle_time_counts_from_the_latest_sign_of_use() -> None:
    shared = route(idle_seconds=60, last_request=NOW - 10)
    assert (
        idle_since(shared, local_last_request=NOW - 30, ready_since=NOW - 50, seen_since=NOW - 99) == NOW - 10
    )


def test_a_freshly_woken_service_gets_its_full_idle_period() -> None:
    woken = route(idle_seconds=60, last_request=NOW - 600)
    assert idle_since(woken, local_last_request=None, ready_since=NOW - 5, seen_since=NOW - 900) == NOW - 5


def test_traffic_newer_than_the_annotation_by_a_quarter_period_is_shared() -> None:
    assert heartbeat_due(route(idle_seconds=60, last_request=NOW - 20), local_last_request=NOW)
    assert not heartbeat_due(route(idle_seconds=60, last_request=NOW - 10), local_last_request=NOW)


def test_no_traffic_means_no_heartbeat() -> None:
    assert not heartbeat_due(route(idle_seconds=60), local_last_request=None)
    assert not heartbeat_due(route(), local_last_request=NOW)


def test_heartbeat_times_keep_milliseconds_through_the_annotation() -> None:
    assert parse_time(format_time(NOW + 0.25)) == NOW + 0.25
