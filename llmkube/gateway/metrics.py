"""The gateway's Prometheus metrics, on its own registry (served at /metrics beside /healthz and /readyz).

Every series is labelled by `namespace` and `model` (the InferenceService's name). A request for a model the
gateway does not serve is counted under `model=""`: the label takes only names the cluster defines, never
whatever a client sends, so a typo storm cannot blow up the number of series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LABELS = ("namespace", "model")

#: From a prompt already cached in a slot (milliseconds) to a cold start of a large model (minutes).
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
WAKE_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200)


@attrs.frozen(kw_only=True)
class ServiceLoad:
    """One service's admission state at the moment of a scrape."""

    namespace: str
    model: str
    in_flight: int
    waiting: int
    capacity: int


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.requests = Counter(
            "llmkube_gateway_requests",
            "Requests answered, by model and HTTP status (the gateway's own refusals included).",
            [*LABELS, "code"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "llmkube_gateway_queue_wait_seconds",
            "Time admitted requests waited for a slot.",
            LABELS,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.wakeups = Counter(
            "llmkube_gateway_wakeups",
            "Times a request scaled a service up from zero.",
            LABELS,
            registry=registry,
        )
        self.wake_time = Histogram(
            "llmkube_gateway_wake_seconds",
            "From the first request held for a service at zero to its first ready replica.",
            LABELS,
            buckets=WAKE_BUCKETS,
            registry=registry,
        )
        self.scale_downs = Counter(
            "llmkube_gateway_scale_downs",
            "Times an idle scale-to-zero service was scaled to zero.",
            LABELS,
            registry=registry,
        )
        self.upstream_ttft = Histogram(
            "llmkube_gateway_upstream_ttft_seconds",
            "From sending a request to a server to the first byte of its answer (the first token when streaming).",
            LABELS,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )

    def report_load(self, source: Callable[[], Iterable[ServiceLoad]]) -> None:
        """Gauges read from the routing table at scrape time, so they can never drift from the gates."""
        self._registry.register(_LoadCollector(source))


class _LoadCollector(Collector):
    def __init__(self, source: Callable[[], Iterable[ServiceLoad]]) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_flight = GaugeMetricFamily(
            "llmkube_gateway_in_flight_requests", "Requests admitted and not yet answered.", labels=LABELS
        )
        depth = GaugeMetricFamily(
            "llmkube_gateway_queue_depth",
            "Requests waiting for a free slot (or for a service to wake).",
            labels=LABELS,
        )
        capacity = GaugeMetricFamily(
            "llmkube_gateway_capacity",
            "Requests the service may run at once: parallel slots times ready replicas.",
            labels=LABELS,
        )
        for load in self._source():
            labels = [load.namespace, load.model]
            in_flight.add_metric(labels, load.in_flight)
            depth.add_metric(labels, load.waiting)
            capacity.add_metric(labels, load.capacity)
        yield from (in_flight, depth, capacity)
