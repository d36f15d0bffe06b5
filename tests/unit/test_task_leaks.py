"""The task-leak check every async test gets (hack/task_leaks.py), tried on test files of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RunTests = Callable[[str], pytest.RunResult]


@pytest.fixture
def run_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> RunTests:
    """Runs a test file in a fresh pytest with the repository's asyncio settings and only the leak plugin."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )

    def run(source: str) -> pytest.RunResult:
        pytester.makepyfile(source)
        return pytester.runpytest_subprocess("-p", "hack.task_leaks", "-p", "no:cacheprovider")

    return run


def test_fails_an_async_test_that_leaves_a_task_running(run_tests: RunTests) -> None:
    result = run_tests(
        """
import asyncio

async def test_leaks():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="orphan")

async def test_after_the_leak():
    pass
"""
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test leaked 1 task(s)*orphan*"])


def test_does_not_flag_the_tasks_of_session_scoped_fixtures(run_tests: RunTests) -> None:
    result = run_tests(
        """
import asyncio
import pytest

@pytest.fixture(scope="session")
async def server():
    task = asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="server")
    yield task
    task.cancel()

async def test_before_the_server_exists():
    pass

async def test_starts_the_server(server):
    assert not server.done()

async def test_uses_the_running_server(server):
    assert not server.done()
"""
    )
    result.assert_outcomes(passed=3)
