"""The `controller_runtime_*` series, labelled `controller`, as controller-runtime exports them.

Every series of a controller is created at zero when the controller is built, so dashboards and alerts see it
before the first event (an absent series and a zero one mean different things to `rate()` and `absent()`).
Families are registered once per registry; `controller_metrics(registry)` returns the shared set.
"""

from __future__ import annotations

import weakref
from typing import Final

import attrs
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

RESULT_SUCCESS: Final = "success"
RESULT_ERROR: Final = "error"
# Kept for dashboards built on controller-runtime; a Python reconciler asks for a requeue with `requeue_after`.
RESULT_REQUEUE: Final = "requeue"
RESULT_REQUEUE_AFTER: Final = "requeue_after"
RESULTS: Final = (RESULT_SUCCESS, RESULT_ERROR, RESULT_REQUEUE, RESULT_REQUEUE_AFTER)

RECONCILE_TIME_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    *(round(0.1 + 0.05 * step, 2) for step in range(9)),  # 0.1 .. 0.5
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    *(round(2.5 + 0.5 * step, 1) for step in range(6)),  # 2.5 .. 5.0
    6.0,
    7.0,
    8.0,
    9.0,
    10.0,
    15.0,
    20.0,
    25.0,
    30.0,
    40.0,
    50.0,
    60.0,
)


@attrs.frozen(kw_only=True)
class ControllerMetrics:
    """The metric families shared by every controller in one registry."""

    reconcile_total: Counter
    reconcile_errors_total: Counter
    terminal_reconcile_errors_total: Counter
    reconcile_time_seconds: Histogram
    active_workers: Gauge
    max_concurrent_reconciles: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ControllerMetrics:
        labels = ["controller"]
        return cls(
            reconcile_total=Counter(
                "controller_runtime_reconcile_total",
                "Reconciles per controller and result (success, error, requeue, requeue_after)",
                [*labels, "result"],
                registry=registry,
            ),
            reconcile_errors_total=Counter(
                "controller_runtime_reconcile_errors_total",
                "Reconciles that raised, terminal errors included",
                labels,
                registry=registry,
            ),
            terminal_reconcile_errors_total=Counter(
                "controller_runtime_terminal_reconcile_errors_total",
                "Reconciles that raised an error retrying cannot fix; these are not requeued",
                labels,
                registry=registry,
            ),
            reconcile_time_seconds=Histogram(
                "controller_runtime_reconcile_time_seconds",
                "Seconds each reconcile took, errors included",
                labels,
                buckets=RECONCILE_TIME_BUCKETS,
                registry=registry,
            ),
            active_workers=Gauge(
                "controller_runtime_active_workers",
                "Workers reconciling right now",
                labels,
                registry=registry,
            ),
            max_concurrent_reconciles=Gauge(
                "controller_runtime_max_concurrent_reconciles",
                "Workers the controller runs",
                labels,
                registry=registry,
            ),
        )

    def initialise(self, *, controller: str, max_concurrent_reconciles: int) -> None:
        """Create every series of `controller` at zero (and the worker limit at its value)."""
        for result in RESULTS:
            self.reconcile_total.labels(controller, result)
        self.reconcile_errors_total.labels(controller)
        self.terminal_reconcile_errors_total.labels(controller)
        self.reconcile_time_seconds.labels(controller)
        self.active_workers.labels(controller).set(0)
        self.max_concurrent_reconciles.labels(controller).set(max_concurrent_reconciles)


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, ControllerMetrics] = weakref.WeakKeyDictionary()


def controller_metrics(registry: CollectorRegistry | None = None) -> ControllerMetrics:
    """The one `ControllerMetrics` for `registry` (the process-wide default registry when None)."""
    registry = registry if registry is not None else prometheus_client.REGISTRY
    metrics = _METRICS.get(registry)
    if metrics is None:
        metrics = _METRICS[registry] = ControllerMetrics.register(registry)
    return metrics
