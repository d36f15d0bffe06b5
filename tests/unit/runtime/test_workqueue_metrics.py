"""The workqueue_* series: what each operation counts, read back from a private registry."""

from __future__ import annotations

import anyio
import pytest
from prometheus_client import CollectorRegistry

from controller.runtime.clock import FakeClock
from controller.runtime.workqueue import (
    DelayingQueue,
    Queue,
    RateLimitingQueue,
    prometheus_metrics_provider,
)


@pytest.fixture
def queue(clock: FakeClock, registry: CollectorRegistry) -> DelayingQueue[str]:
    return DelayingQueue(name="models", clock=clock, metrics_provider=prometheus_metrics_provider(registry))


def sample(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, {"name": "models", **labels})


async def test_counts_an_add_once_while_the_key_waits(
    queue: DelayingQueue[str], registry: CollectorRegistry
) -> None:
    queue.add("a")
    queue.add("a")
    queue.add("b")

    assert sample(registry, "workqueue_adds_total") == 2
    assert sample(registry, "workqueue_depth") == 2


async def test_counts_a_readd_while_processing_as_an_add(
    queue: DelayingQueue[str], registry: CollectorRegistry
) -> None:
    queue.add("a")
    await queue.get()
    queue.add("a")

    assert sample(registry, "workqueue_adds_total") == 2
    assert sample(registry, "workqueue_depth") == 1


async def test_observes_time_queued_from_the_first_add_and_time_held_until_done(
    queue: DelayingQueue[str], registry: CollectorRegistry, clock: FakeClock
) -> None:
    queue.add("a")
    clock.step(2)
    queue.add("a")
    clock.step(1)
    key = await queue.get()
    clock.step(0.5)
    queue.done(key)

    assert sample(registry, "workqueue_queue_duration_seconds_sum") == pytest.approx(3)
    assert sample(registry, "workqueue_queue_duration_seconds_count") == 1
    assert sample(registry, "workqueue_work_duration_seconds_sum") == pytest.approx(0.5)
    assert sample(registry, "workqueue_depth") == 0


async def test_reports_unfinished_and_longest_running_work_at_scrape_time(
    queue: DelayingQueue[str], registry: CollectorRegistry, clock: FakeClock
) -> None:
    queue.add("a")
    await queue.get()
    clock.step(3)
    queue.add("b")
    await queue.get()
    clock.step(1)

    assert sample(registry, "workqueue_unfinished_work_seconds") == pytest.approx(5)
    assert sample(registry, "workqueue_longest_running_processor_seconds") == pytest.approx(4)
    queue.done("a")
    queue.done("b")
    assert sample(registry, "workqueue_unfinished_work_seconds") == 0


async def test_counts_every_add_after_as_a_retry_even_without_delay(
    queue: DelayingQueue[str], registry: CollectorRegistry
) -> None:
    queue.add_after("a", 0)
    queue.add_after("b", 5)

    assert sample(registry, "workqueue_retries_total") == 2


async def test_counts_rate_limited_adds_as_retries(clock: FakeClock, registry: CollectorRegistry) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        name="models", clock=clock, metrics_provider=prometheus_metrics_provider(registry)
    )
    queue.add_rate_limited("a")

    assert sample(registry, "workqueue_retries_total") == 1


def test_exports_duration_histograms_with_client_go_buckets_from_10ns_to_1000s(
    queue: DelayingQueue[str], registry: CollectorRegistry
) -> None:
    bounds = {
        sample.labels["le"]
        for family in registry.collect()
        if family.name == "workqueue_work_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }

    assert bounds == {
        "1e-08",
        "1e-07",
        "1e-06",
        "1e-05",
        "0.0001",
        "0.001",
        "0.01",
        "0.1",
        "1.0",
        "10.0",
        "100.0",
        "1000.0",
        "+Inf",
    }


def test_an_unnamed_queue_exports_nothing(clock: FakeClock, registry: CollectorRegistry) -> None:
    queue: Queue[str] = Queue(clock=clock, metrics_provider=prometheus_metrics_provider(registry))
    queue.add("a")

    assert registry.get_sample_value("workqueue_adds_total", {"name": ""}) is None


def test_queues_sharing_a_registry_get_separate_series(clock: FakeClock, registry: CollectorRegistry) -> None:
    provider = prometheus_metrics_provider(registry)
    models: Queue[str] = Queue(name="models", clock=clock, metrics_provider=provider)
    services: Queue[str] = Queue(name="services", clock=clock, metrics_provider=provider)
    models.add("a")
    services.add("a")
    services.add("b")

    assert registry.get_sample_value("workqueue_adds_total", {"name": "models"}) == 1
    assert registry.get_sample_value("workqueue_adds_total", {"name": "services"}) == 2


async def test_delayed_key_is_counted_as_an_add_when_it_arrives(
    queue: DelayingQueue[str], registry: CollectorRegistry, clock: FakeClock
) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add_after("a", 1)
        assert sample(registry, "workqueue_adds_total") == 0
        clock.step(1)
        await anyio.wait_all_tasks_blocked()
        assert sample(registry, "workqueue_adds_total") == 1
        queue.shut_down()
