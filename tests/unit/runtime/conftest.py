"""Fixtures for the runtime unit tests: a fake clock and a private metrics registry.

The task-leak check that every async test gets lives in hack/task_leaks.py.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from controller.runtime.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
