"""Fixtures for the runtime unit tests: a fake clock, a private metrics registry, and a task-leak check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from controller.runtime.clock import FakeClock


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves a task running: every task must belong to a task group that the test closed."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leaked = [task for task in asyncio.all_tasks() - before if task is not current and not task.done()]
    for task in leaked:
        task.cancel()
    if leaked:
        pytest.fail(f"test leaked {len(leaked)} task(s): {[task.get_name() for task in leaked]}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
