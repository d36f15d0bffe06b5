"""Work-queue metrics: the `workqueue_*` series of client-go, labelled `name`, behind an injectable provider.

The queue talks to a `MetricsProvider`, never to prometheus-client directly, so tests pass a provider bound to
their own `CollectorRegistry` and unnamed queues get `NOOP_METRICS_PROVIDER`. Families are registered once per
registry (a registry refuses a second family of the same name), hence `prometheus_metrics_provider(registry)`
returns one shared provider per registry.

client-go refreshes the two "unfinished work" gauges from a ticker every 500 ms; here they are computed when
Prometheus scrapes them, which is exact and needs no background task.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Protocol

import prometheus_client
from prometheus_client import CollectorRegistry

from controller.runtime.clock import Clock

# client-go's ExponentialBuckets(10e-9, 10, 12): 10 ns .. 1000 s.
DURATION_BUCKETS: tuple[float, ...] = tuple(10.0**exponent for exponent in range(-8, 4))


class CounterMetric(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class GaugeMetric(Protocol):
    def inc(self, amount: float = 1) -> None: ...

    def dec(self, amount: float = 1) -> None: ...


class HistogramMetric(Protocol):
    def observe(self, amount: float) -> None: ...


class ScrapedGaugeMetric(Protocol):
    """A gauge whose value is read from a function at scrape time."""

    def set_function(self, f: Callable[[], float]) -> None: ...


class MetricsProvider(Protocol):
    """Makes the metrics of one named queue; mirrors client-go's `MetricsProvider`."""

    def new_depth_metric(self, name: str) -> GaugeMetric: ...

    def new_adds_metric(self, name: str) -> CounterMetric: ...

    def new_latency_metric(self, name: str) -> HistogramMetric: ...

    def new_work_duration_metric(self, name: str) -> HistogramMetric: ...

    def new_unfinished_work_seconds_metric(self, name: str) -> ScrapedGaugeMetric: ...

    def new_longest_running_processor_seconds_metric(self, name: str) -> ScrapedGaugeMetric: ...

    def new_retries_metric(self, name: str) -> CounterMetric: ...


class _NoopMetric:
    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass

    def set_function(self, f: Callable[[], float]) -> None:
        pass


class NoopMetricsProvider:
    """Discards everything; for unnamed queues and for code that must not touch a registry."""

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return _NoopMetric()

    def new_adds_metric(self, name: str) -> CounterMetric:
        return _NoopMetric()

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return _NoopMetric()

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return _NoopMetric()

    def new_unfinished_work_seconds_metric(self, name: str) -> ScrapedGaugeMetric:
        return _NoopMetric()

    def new_longest_running_processor_seconds_metric(self, name: str) -> ScrapedGaugeMetric:
        return _NoopMetric()

    def new_retries_metric(self, name: str) -> CounterMetric:
        return _NoopMetric()


NOOP_METRICS_PROVIDER = NoopMetricsProvider()


class PrometheusMetricsProvider:
    """The `workqueue_*` families in one registry; each queue gets the children for its `name` label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["name"]
        self._depth = prometheus_client.Gauge(
            "workqueue_depth", "Keys waiting in the work-queue for a worker", labels, registry=registry
        )
        self._adds = prometheus_client.Counter(
            "workqueue_adds_total",
            "Keys added to the work-queue (adds of an already pending key not counted)",
            labels,
            registry=registry,
        )
        self._latency = prometheus_client.Histogram(
            "workqueue_queue_duration_seconds",
            "Seconds a key waits in the work-queue before a worker takes it",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._work_duration = prometheus_client.Histogram(
            "workqueue_work_duration_seconds",
            "Seconds a worker holds a key, from taking it to marking it done",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._unfinished = prometheus_client.Gauge(
            "workqueue_unfinished_work_seconds",
            "Summed age in seconds of the keys workers hold now; steady growth means stuck reconciles",
            labels,
            registry=registry,
        )
        self._longest = prometheus_client.Gauge(
            "workqueue_longest_running_processor_seconds",
            "Age in seconds of the oldest key a worker holds now",
            labels,
            registry=registry,
        )
        self._retries = prometheus_client.Counter(
            "workqueue_retries_total",
            "Delayed adds (rate-limited retries and requeue-after) made to the work-queue",
            labels,
            registry=registry,
        )

    def new_depth_metric(self, name: str) -> GaugeMetric:
        return self._depth.labels(name)

    def new_adds_metric(self, name: str) -> CounterMetric:
        return self._adds.labels(name)

    def new_latency_metric(self, name: str) -> HistogramMetric:
        return self._latency.labels(name)

    def new_work_duration_metric(self, name: str) -> HistogramMetric:
        return self._work_duration.labels(name)

    def new_unfinished_work_seconds_metric(self, name: str) -> ScrapedGaugeMetric:
        return self._unfinished.labels(name)

    def new_longest_running_processor_seconds_metric(self, name: str) -> ScrapedGaugeMetric:
        return self._longest.labels(name)

    def new_retries_metric(self, name: str) -> CounterMetric:
        return self._retries.labels(name)


_PROVIDERS: weakref.WeakKeyDictionary[CollectorRegistry, PrometheusMetricsProvider] = (
    weakref.WeakKeyDictionary()
)


def prometheus_metrics_provider(registry: CollectorRegistry | None = None) -> PrometheusMetricsProvider:
    """The one provider for `registry` (the process-wide default registry when None)."""
    registry = registry if registry is not None else prometheus_client.REGISTRY
    provider = _PROVIDERS.get(registry)
    if provider is None:
        provider = _PROVIDERS[registry] = PrometheusMetricsProvider(registry)
    return provider


class QueueMetrics:
    """The bookkeeping behind one queue's metrics: when each key was added and when its processing began."""

    def __init__(self, *, name: str, clock: Clock, provider: MetricsProvider) -> None:
        self._clock = clock
        self._depth = provider.new_depth_metric(name)
        self._adds = provider.new_adds_metric(name)
        self._latency = provider.new_latency_metric(name)
        self._work_duration = provider.new_work_duration_metric(name)
        self._retries = provider.new_retries_metric(name)
        # First counted add since the key was last handed out; cleared by `get`, so re-adds never reset it.
        self._add_times: dict[Hashable, float] = {}
        # When a worker took each key it still holds; cleared by `done`.
        self._processing_start_times: dict[Hashable, float] = {}
        provider.new_unfinished_work_seconds_metric(name).set_function(self.unfinished_work_seconds)
        provider.new_longest_running_processor_seconds_metric(name).set_function(
            self.longest_running_processor_seconds
        )

    def add(self, item: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._add_times.setdefault(item, self._clock.now())

    def get(self, item: Hashable) -> None:
        now = self._clock.now()
        self._depth.dec()
        self._processing_start_times[item] = now
        added_at = self._add_times.pop(item, None)
        if added_at is not None:
            self._latency.observe(now - added_at)

    def done(self, item: Hashable) -> None:
        started_at = self._processing_start_times.pop(item, None)
        if started_at is not None:
            self._work_duration.observe(self._clock.now() - started_at)

    def retry(self) -> None:
        self._retries.inc()

    def unfinished_work_seconds(self) -> float:
        now = self._clock.now()
        return sum(now - started_at for started_at in self._processing_start_times.values())

    def longest_running_processor_seconds(self) -> float:
        now = self._clock.now()
        return max((now - started_at for started_at in self._processing_start_times.values()), default=0.0)
