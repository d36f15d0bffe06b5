"""The reflector's decisions: what it lists with, what it watches from, and when it relists or backs off."""

from __future__ import annotations

import anyio
from prometheus_client import CollectorRegistry

from controller.kube import ConnectionFailed, Gone, KubeError, ObjectList, WatchInactive
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.clock import FakeClock
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from tests.unit.runtime.fake_source import FakeSource, RecordingHandler, cm, event


async def run_until_exhausted(source: FakeSource, informer: Informer, clock: FakeClock | None = None) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(informer.run)
        while not source.exhausted.is_set():
            await anyio.wait_all_tasks_blocked()
            if clock is not None and not source.exhausted.is_set():
                clock.step(2.0)  # past any jittered first backoff (0.8-1.6 s)
        tg.cancel_scope.cancel()


def informer_for(source: FakeSource, clock: FakeClock, registry: CollectorRegistry) -> Informer:
    return Informer(source, CONFIG_MAPS, clock=clock, metrics=ReflectorMetrics(registry))


async def test_lists_from_the_watch_cache_then_watches_from_the_list_version(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(lists=[ObjectList(items=[cm("a", "5")], resource_version="10")], watches=[])
    await run_until_exhausted(source, informer_for(source, clock, registry))
    assert source.calls == [("list", "0"), ("watch", "10")]


async def test_clean_close_rewatches_from_the_last_bookmark_without_relisting(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ObjectList(items=[], resource_version="10")],
        watches=[[event("ADDED", "a", "11"), event("BOOKMARK", "", "15")]],
    )
    await run_until_exhausted(source, informer_for(source, clock, registry))
    assert source.calls == [("list", "0"), ("watch", "10"), ("watch", "15")]


async def test_gone_relists_consistently_and_delivers_deletes_for_vanished_objects(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[
            ObjectList(items=[cm("a", "1"), cm("b", "2")], resource_version="10"),
            ObjectList(items=[cm("a", "30"), cm("c", "31")], resource_version="40"),
        ],
        watches=[[Gone("too old resource version")]],
    )
    informer = informer_for(source, clock, registry)
    handler = RecordingHandler()
    informer.add_event_handler(handler)
    await run_until_exhausted(source, informer)
    assert source.calls == [("list", "0"), ("watch", "10"), ("list", ""), ("watch", "40")]
    assert handler.events == [("add", "a"), ("add", "b"), ("delete", "b"), ("update", "a"), ("add", "c")]
    assert sorted(informer.store.keys()) == ["ns/a", "ns/c"]


async def test_inactive_stream_rewatches_at_once_from_the_same_version(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ObjectList(items=[], resource_version="10")], watches=[[WatchInactive("silent")]]
    )
    await run_until_exhausted(source, informer_for(source, clock, registry))
    assert source.calls == [("list", "0"), ("watch", "10"), ("watch", "10")]


async def test_broken_connection_backs_off_then_rewatches(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ObjectList(items=[], resource_version="10")], watches=[[ConnectionFailed("reset")]]
    )
    informer = informer_for(source, clock, registry)
    async with anyio.create_task_group() as tg:
        await tg.start(informer.run)
        await anyio.wait_all_tasks_blocked()
        assert source.calls == [("list", "0"), ("watch", "10")]
        clock.step(2.0)
        await source.exhausted.wait()
        tg.cancel_scope.cancel()
    assert source.calls[-1] == ("watch", "10")


async def test_unexpected_watch_error_backs_off_and_relists_from_the_last_version(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ObjectList(items=[], resource_version="10")],
        watches=[[event("ADDED", "a", "12"), KubeError("500 boom", status=500)]],
    )
    await run_until_exhausted(source, informer_for(source, clock, registry), clock)
    assert source.calls == [("list", "0"), ("watch", "10"), ("list", "12")]


async def test_failed_first_list_is_retried_after_backoff(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    source = FakeSource(
        lists=[ConnectionFailed("refused"), ObjectList(items=[cm("a", "1")], resource_version="3")],
        watches=[],
    )
    informer = informer_for(source, clock, registry)
    await run_until_exhausted(source, informer, clock)
    assert source.calls == [("list", "0"), ("list", "0"), ("watch", "3")]
    assert informer.has_synced()


def test_watch_end_and_list_counts_exist_at_zero_before_the_first_watch(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    informer_for(FakeSource(lists=[], watches=[]), clock, registry)

    for reason in ("closed", "expired", "inactive", "throttled", "error"):
        assert (
            registry.get_sample_value(
                "informer_watch_ends_total", {"resource": "configmaps", "reason": reason}
            )
            == 0
        )
    assert registry.get_sample_value("informer_lists_total", {"resource": "configmaps"}) == 0
    assert registry.get_sample_value("informer_watch_connected", {"resource": "configmaps"}) == 0
