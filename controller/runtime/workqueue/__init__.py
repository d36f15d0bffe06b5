"""A work-queue with client-go's semantics, in layers: queue <- delaying <- rate-limiting; limiters; metrics."""

from controller.runtime.workqueue.delaying import DelayingQueue
from controller.runtime.workqueue.metrics import (
    NOOP_METRICS_PROVIDER,
    MetricsProvider,
    NoopMetricsProvider,
    PrometheusMetricsProvider,
    prometheus_metrics_provider,
)
from controller.runtime.workqueue.queue import Queue, QueueEmpty, QueueShutDown
from controller.runtime.workqueue.rate_limiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from controller.runtime.workqueue.rate_limiting import RateLimitingQueue

__all__ = [
    "NOOP_METRICS_PROVIDER",
    "BucketRateLimiter",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "MetricsProvider",
    "NoopMetricsProvider",
    "PrometheusMetricsProvider",
    "Queue",
    "QueueEmpty",
    "QueueShutDown",
    "RateLimiter",
    "RateLimitingQueue",
    "default_controller_rate_limiter",
    "prometheus_metrics_provider",
]
