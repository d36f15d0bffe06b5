"""The chart's copies of the CRDs, dashboards and rules are those of their sources."""

from __future__ import annotations

from hack.chart_files import stale_files


def test_the_chart_carries_current_copies() -> None:
    assert stale_files() == [], "run `python -m hack.chart_files` (or `make crds`)"
