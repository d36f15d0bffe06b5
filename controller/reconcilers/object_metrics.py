"""Per-object series (`llmkube_model_*`, `llmkube_inferenceservice_*`) for alerts that must name the object.

`llmkube_models{phase}` says how many Models are Failed; an alert has to say which one, and for how long. These
collectors read the informer caches at scrape time, as the phase counts do, and report each object's status:

- `llmkube_model_phase{namespace,model,phase}` and `llmkube_inferenceservice_phase{namespace,inferenceservice,
  phase}`: 1 for the object's current phase (an object not reconciled yet reports phase "Unknown").
- `llmkube_model_degraded{namespace,model,reason}`: 1 while `Degraded` is True. A failing download flaps between
  Failed (waiting out its backoff) and Downloading (the retry), but `Degraded` describes the last finished attempt
  until one succeeds, so an alert on it holds steady across retries.
- `llmkube_model_download_progress_bytes{namespace,model}`: `status.progress.bytesDone` while a download reports
  progress; a value that stops moving is a stalled download.
- `llmkube_inferenceservice_desired_replicas` / `_ready_replicas{namespace,inferenceservice}`: the replicas the
  service should have (spec.replicas, or the autoscaler's current count) and those ready (`status.readyReplicas`).

The series carry their own `namespace` label, so the controller's ServiceMonitor scrapes with `honorLabels`
(as kube-state-metrics does); otherwise Prometheus would rename it to `exported_namespace`. A series for an
object that is gone, or a phase that is over, simply stops being reported, and Prometheus marks it stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.objects import ObjectView, condition_of, name_of, namespace_of, status_of
from api.v1alpha1.well_known import DEGRADED
from controller.reconcilers.metrics import UNKNOWN_PHASE

Objects = Callable[[], Iterable[dict[str, Any]]]


def _identity(obj: ObjectView) -> tuple[str, str]:
    return namespace_of(obj), name_of(obj)


def _phase(obj: ObjectView) -> str:
    return str(status_of(obj).get("phase") or UNKNOWN_PHASE)


class ModelStatusCollector(Collector):
    def __init__(self, models: Objects) -> None:
        self._models = models

    def collect(self) -> Iterator[Metric]:
        phase, degraded, progress = self._families()
        for model in self._models():
            namespace, name = _identity(model)
            phase.add_metric([namespace, name, _phase(model)], 1)
            condition = condition_of(model, DEGRADED)
            if condition is not None and condition.get("status") == "True":
                degraded.add_metric([namespace, name, str(condition.get("reason") or "")], 1)
            done = (status_of(model).get("progress") or {}).get("bytesDone")
            if isinstance(done, int):
                progress.add_metric([namespace, name], done)
        yield from (phase, degraded, progress)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "llmkube_model_phase",
                "1 for each Model's current status.phase.",
                labels=["namespace", "model", "phase"],
            ),
            GaugeMetricFamily(
                "llmkube_model_degraded",
                "1 while a Model's Degraded condition is True, with its reason.",
                labels=["namespace", "model", "reason"],
            ),
            GaugeMetricFamily(
                "llmkube_model_download_progress_bytes",
                "Bytes the running download of a Model has written (status.progress.bytesDone).",
                labels=["namespace", "model"],
            ),
        )


def desired_replicas(service: ObjectView) -> int:
    """spec.replicas (default 1), or for an autoscaled service the count the autoscaler set last."""
    spec, status = service.get("spec") or {}, status_of(service)
    value = status.get("replicas") if spec.get("autoscaling") else spec.get("replicas", 1)
    return value if isinstance(value, int) else 0


class InferenceServiceStatusCollector(Collector):
    def __init__(self, services: Objects) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        phase, desired, ready = self._families()
        for service in self._services():
            namespace, name = _identity(service)
            phase.add_metric([namespace, name, _phase(service)], 1)
            desired.add_metric([namespace, name], desired_replicas(service))
            ready_count = status_of(service).get("readyReplicas")
            ready.add_metric([namespace, name], ready_count if isinstance(ready_count, int) else 0)
        yield from (phase, desired, ready)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        labels = ["namespace", "inferenceservice"]
        return (
            GaugeMetricFamily(
                "llmkube_inferenceservice_phase",
                "1 for each InferenceService's current status.phase.",
                labels=[*labels, "phase"],
            ),
            GaugeMetricFamily(
                "llmkube_inferenceservice_desired_replicas",
                "Replicas an InferenceService should have: spec.replicas, or the autoscaler's current count.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "llmkube_inferenceservice_ready_replicas",
                "Ready replicas of an InferenceService (status.readyReplicas).",
                labels=labels,
            ),
        )


def register_model_status(models: Objects, registry: CollectorRegistry | None = None) -> None:
    (registry or REGISTRY).register(ModelStatusCollector(models))


def register_inferenceservice_status(services: Objects, registry: CollectorRegistry | None = None) -> None:
    (registry or REGISTRY).register(InferenceServiceStatusCollector(services))
