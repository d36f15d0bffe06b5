"""The operator's domain metrics (`llmkube_*`), beside the runtime's `controller_runtime_*` and `workqueue_*`.

Counts of objects by phase are read from the informer cache at scrape time rather than kept up to date by the
reconcilers: a gauge that reconcilers increment and decrement drifts the first time a delete is missed, while the
cache is by definition what the controller believes. Every known phase is reported, at zero too, so a dashboard
never has to guess whether a missing series means "none" or "not scraped".

Events that happen once (a download finished) are counters and histograms the reconciler feeds. Everything goes to
the registry of the manager the controller runs in (the one its /metrics serves), never to the global one, so
tests and two managers in one process never collide.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.objects import status_of
from api.v1alpha1.model import ModelSource

#: Downloads range from a 100 MB test model over loopback to a 40 GiB file over a slow link.
DOWNLOAD_SECONDS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)

UNKNOWN_PHASE = "Unknown"


class PhaseCollector(Collector):
    """`<name>{phase}`: how many cached objects are in each phase, counted when scraped."""

    def __init__(
        self,
        *,
        name: str,
        documentation: str,
        phases: Sequence[str],
        objects: Callable[[], Iterable[dict[str, Any]]],
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._phases = tuple(phases)
        self._objects = objects

    def collect(self) -> Iterator[Metric]:
        counts: Tally[str] = Tally()
        for obj in self._objects():
            phase = status_of(obj).get("phase")
            # An object not yet reconciled has no phase; count it rather than hide it.
            counts[phase if phase in self._phases else UNKNOWN_PHASE] += 1
        family = GaugeMetricFamily(self._name, self._documentation, labels=["phase"])
        for phase in (*self._phases, UNKNOWN_PHASE):
            family.add_metric([phase], counts[phase])
        yield family

    def describe(self) -> Iterator[Metric]:
        # Describing without collecting keeps registration from reading a cache that is not synced yet.
        yield GaugeMetricFamily(self._name, self._documentation, labels=["phase"])


def register_phase_counts(
    *,
    name: str,
    documentation: str,
    phases: Sequence[str],
    objects: Callable[[], Iterable[dict[str, Any]]],
    registry: CollectorRegistry,
) -> PhaseCollector:
    collector = PhaseCollector(name=name, documentation=documentation, phases=phases, objects=objects)
    registry.register(collector)
    return collector


def source_kind(source: ModelSource) -> str:
    """The metrics label for a source: its wire name."""
    if source.hugging_face is not None:
        return "huggingFace"
    if source.pvc is not None:
        return "pvc"
    return "url"


class DownloadMetrics:
    """What finished downloads moved and how long they took, by kind of source (huggingFace, url, pvc).

    Each download Job counts once. The reconciler can see one finished Job twice: a later pass may read the
    Model from a cache that has not yet caught up with the Ready status the first pass wrote.
    """

    def __init__(self, registry: CollectorRegistry, *, remembered_jobs: int = 4096) -> None:
        # Least recently counted first; bounded, since a Job is only ever seen twice within moments.
        self._counted: OrderedDict[str, None] = OrderedDict()
        self._remembered_jobs = remembered_jobs
        self.bytes_total = Counter(
            "llmkube_model_download_bytes_total",
            "Bytes of model files downloaded into a cache (files reused from the cache count nothing).",
            ["source"],
            registry=registry,
        )
        self.seconds = Histogram(
            "llmkube_model_download_seconds",
            "Time from the download Job's start to its successful completion.",
            ["source"],
            buckets=DOWNLOAD_SECONDS_BUCKETS,
            registry=registry,
        )
        for source in ("huggingFace", "url", "pvc"):
            self.bytes_total.labels(source)
            self.seconds.labels(source)

    def observe(
        self, *, job_uid: str, source: str, size_bytes: int | None, seconds: float | None, reused: bool
    ) -> None:
        if job_uid in self._counted:
            return
        self._counted[job_uid] = None
        if len(self._counted) > self._remembered_jobs:
            self._counted.popitem(last=False)
        if not reused and size_bytes:
            self.bytes_total.labels(source).inc(size_bytes)
        if not reused and seconds is not None and seconds >= 0:
            self.seconds.labels(source).observe(seconds)


# -- InferenceServices ----------------------------------------------------------------------------------------


def gpus_requested(service: dict[str, Any]) -> int:
    """GPUs one InferenceService's pods ask the cluster for: `status.gpuCount` x replicas.

    Replicas are the spec's, or the Deployment's current count when an autoscaler owns them; services the host
    agent serves (metal, host) request no cluster GPU.
    """
    spec, status = service.get("spec") or {}, status_of(service)
    if (spec.get("accelerator") or {}).get("type") in ("metal", "host"):
        return 0
    replicas = status.get("replicas") if spec.get("autoscaling") else spec.get("replicas", 1)
    gpus, count = status.get("gpuCount"), replicas
    if not isinstance(gpus, int) or not isinstance(count, int):
        return 0
    return gpus * count


class GPUsRequestedCollector(Collector):
    """`llmkube_gpus_requested`: GPUs requested by every cached InferenceService, summed when scraped."""

    NAME = "llmkube_gpus_requested"
    DOCUMENTATION = "GPUs requested by InferenceService pods (status.gpuCount x replicas)."

    def __init__(self, services: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        total = sum(gpus_requested(service) for service in self._services())
        yield GaugeMetricFamily(self.NAME, self.DOCUMENTATION, value=total)

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.NAME, self.DOCUMENTATION, value=0)


def register_model_metrics(
    *, phases: Sequence[str], models: Callable[[], Iterable[dict[str, Any]]], registry: CollectorRegistry
) -> None:
    """`llmkube_models{phase}`, read from the Model cache."""
    register_phase_counts(
        name="llmkube_models",
        documentation="Models by phase, as the controller's cache sees them.",
        phases=phases,
        objects=models,
        registry=registry,
    )


def register_service_metrics(
    *,
    phases: Sequence[str],
    services: Callable[[], Iterable[dict[str, Any]]],
    registry: CollectorRegistry,
) -> None:
    """`llmkube_inferenceservices{phase}` and `llmkube_gpus_requested`, both read from the service cache."""
    register_phase_counts(
        name="llmkube_inferenceservices",
        documentation="InferenceServices by status.phase.",
        phases=phases,
        objects=services,
        registry=registry,
    )
    registry.register(GPUsRequestedCollector(services))
