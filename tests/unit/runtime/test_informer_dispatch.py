"""Informer dispatch: store first, then every handler, in event order; late handlers catch up."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from controller.kube.resources import CONFIG_MAPS
from controller.runtime.clock import FakeClock
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from tests.unit.runtime.fake_source import FakeSource, RecordingHandler, cm, event


def informer(clock: FakeClock, registry: CollectorRegistry) -> Informer:
    return Informer(
        FakeSource(lists=[], watches=[]), CONFIG_MAPS, clock=clock, metrics=ReflectorMetrics(registry)
    )


def test_not_synced_until_the_first_list_is_delivered(clock: FakeClock, registry: CollectorRegistry) -> None:
    inf = informer(clock, registry)
    assert not inf.has_synced()
    inf.replace([cm("a", "1")], "5")
    assert inf.has_synced()


def test_handler_sees_the_store_already_updated(clock: FakeClock, registry: CollectorRegistry) -> None:
    inf = informer(clock, registry)
    seen: list[str | None] = []

    class Peek(RecordingHandler):
        def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
            cached = inf.store.get("ns/a")
            seen.append(cached["metadata"]["resourceVersion"] if cached else None)

    inf.add_event_handler(Peek())
    inf.replace([cm("a", "1")], "5")
    inf.apply(event("MODIFIED", "a", "6"))
    assert seen == ["6"]


def test_delete_event_removes_the_object_and_passes_its_final_state(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    inf = informer(clock, registry)
    handler = RecordingHandler()
    inf.add_event_handler(handler)
    inf.replace([cm("a", "1")], "5")
    inf.apply(event("DELETED", "a", "7"))
    assert handler.events == [("add", "a"), ("delete", "a")]
    assert inf.store.get("ns/a") is None


def test_handler_added_after_sync_hears_cached_objects_as_adds(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    inf = informer(clock, registry)
    inf.replace([cm("a", "1"), cm("b", "1")], "5")
    handler = RecordingHandler()
    inf.add_event_handler(handler)
    assert sorted(handler.events) == [("add", "a"), ("add", "b")]


def test_a_failing_handler_does_not_starve_the_next_one(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    inf = informer(clock, registry)

    class Broken(RecordingHandler):
        def on_add(self, obj: dict[str, Any]) -> None:
            raise RuntimeError("bug")

    good = RecordingHandler()
    inf.add_event_handler(Broken())
    inf.add_event_handler(good)
    inf.replace([cm("a", "1")], "5")
    assert good.events == [("add", "a")]


def test_not_healthy_once_disconnected_longer_than_the_grace(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    inf = informer(clock, registry)
    inf.replace([], "5")
    assert inf.healthy()
    clock.step(61)
    assert not inf.healthy()
