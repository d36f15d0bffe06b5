"""Summary statistics for benchmark samples.

Percentiles interpolate linearly between the two nearest ranks (the method numpy calls `linear`): with n sorted
samples, percentile p sits at rank p/100 * (n - 1). It is defined for a single sample and never leaves the
sampled range, which keeps p50 <= p95 <= p99 <= max for every input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs


def percentile(samples: Sequence[float], p: float) -> float:
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0..100")
    ordered = sorted(samples)
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@attrs.frozen(kw_only=True)
class Distribution:
    count: int
    min: float
    max: float
    mean: float
    p50: float
    p95: float
    p99: float


def distribution(samples: Sequence[float]) -> Distribution | None:
    """None for no samples: a level where every request failed has no latency to report."""
    if not samples:
        return None
    return Distribution(
        count=len(samples),
        min=min(samples),
        max=max(samples),
        mean=math.fsum(samples) / len(samples),
        p50=percentile(samples, 50),
        p95=percentile(samples, 95),
        p99=percentile(samples, 99),
    )
