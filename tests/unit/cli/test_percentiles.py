from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmkube.benchmark import distribution, percentile


def test_median_of_an_even_count_is_the_midpoint() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5


def test_percentile_interpolates_between_neighbouring_ranks() -> None:
    # rank = 0.95 * (5 - 1) = 3.8 -> 40 + 0.8 * (50 - 40)
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 95) == pytest.approx(48.0)


def test_p99_of_one_hundred_and_one_samples_is_the_99th_value() -> None:
    assert percentile([float(v) for v in range(101)], 99) == pytest.approx(99.0)


def test_single_sample_is_every_percentile() -> None:
    assert percentile([7.0], 0) == percentile([7.0], 99) == 7.0


def test_extremes_are_min_and_max() -> None:
    samples = [3.0, 9.0, 1.0]
    assert (percentile(samples, 0), percentile(samples, 100)) == (1.0, 9.0)


def test_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_distribution_of_no_samples_is_none() -> None:
    assert distribution([]) is None


def test_distribution_reports_mean_and_percentiles() -> None:
    d = distribution([100.0, 200.0, 300.0])
    assert d is not None
    assert (d.count, d.min, d.max, d.mean, d.p50) == (3, 100.0, 300.0, 200.0, 200.0)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_are_ordered_and_within_the_samples(samples: list[float]) -> None:
    d = distribution(samples)
    assert d is not None
    assert d.min <= d.p50 <= d.p95 <= d.p99 <= d.max
