"""Throughput of the work-queue's hot path: one add, get and done per key, median of 5 runs.

Run: .venv/bin/python hack/bench/queue_ops.py [keys-per-run]

One cycle is the work a controller does per event before its reconciler runs; this bounds how many events per
second a single controller can even hand to its workers. Measured with and without Prometheus metrics, since the
metrics are most of the cost.
"""

from __future__ import annotations

import statistics
import sys
import time

import anyio
from prometheus_client import CollectorRegistry

from controller.runtime.workqueue import MetricsProvider, RateLimitingQueue, prometheus_metrics_provider

RUNS = 5


async def cycles_per_second(keys: int, metrics_provider: MetricsProvider | None) -> float:
    queue: RateLimitingQueue[str] = RateLimitingQueue(name="bench", metrics_provider=metrics_provider)
    names = [f"namespace/model-{index}" for index in range(keys)]
    started = time.perf_counter()
    for name in names:
        queue.add(name)
    for _ in names:
        queue.done(await queue.get())
    return keys / (time.perf_counter() - started)


def median_rate(keys: int, *, with_metrics: bool) -> float:
    rates = []
    for _ in range(RUNS):
        provider = prometheus_metrics_provider(CollectorRegistry()) if with_metrics else None
        rates.append(anyio.run(cycles_per_second, keys, provider, backend="asyncio"))
    return statistics.median(rates)


def main() -> None:
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(f"work-queue add+get+done, {keys} keys per run, median of {RUNS} runs")
    print(f"  without metrics: {median_rate(keys, with_metrics=False):>12,.0f} ops/s")
    print(f"  with metrics:    {median_rate(keys, with_metrics=True):>12,.0f} ops/s")


if __name__ == "__main__":
    main()
