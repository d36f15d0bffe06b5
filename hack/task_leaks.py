"""pytest plugin: every async test fails if it leaves an asyncio task running.

Registered from the root conftest.py. Structured concurrency means every task belongs to a task group that
closes before its owner returns, so a task still pending after a test (and its function-scoped fixtures) tore
down escaped its owner: it would go on running into the next test, which shares the session's event loop.

Only tasks created after the check began count. pytest sets up session- and module-scoped fixtures before any
function-scoped one, so their long-lived tasks (a cluster's, a server's) already exist when the check begins and
are never flagged. Leaked tasks are cancelled, so one leak does not cascade into the following tests.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
def _no_leaked_tasks(request: pytest.FixtureRequest) -> None:
    """Starts the check for async tests; sync tests run no code on the session's loop."""
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        request.getfixturevalue("_task_leak_check")


@pytest.fixture
async def _task_leak_check() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leaked = [task for task in asyncio.all_tasks() - before if task is not current and not task.done()]
    for task in leaked:
        task.cancel()
    if leaked:
        pytest.fail(f"test leaked {len(leaked)} task(s): {[describe(task) for task in leaked]}")


def describe(task: asyncio.Task[object]) -> str:
    """The task's name and the coroutine it runs, which usually names the code that spawned it."""
    coro = task.get_coro()
    where = getattr(coro, "__qualname__", None) or repr(coro)
    return f"{task.get_name()} ({where})"
