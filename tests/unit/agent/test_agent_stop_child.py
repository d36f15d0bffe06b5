"""Stopping a server: SIGTERM to its process group, SIGKILL after the grace, and always reaped.

The servers here are real processes started the way the supervisor starts llama-server (a session of their
own). Each tells the test on stdout once its signal handling is in place, so nothing is signalled too early;
waits are bounded by `fail_after`, never measured.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest

from llmkube.agent.leftovers import is_alive
from llmkube.agent.supervisor import stop_child

#: Far longer than any stop may take; only a hung test ever reaches it.
BOUND_S = 30.0

STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # inherits SIG_IGN
print(helper.pid, flush=True)
time.sleep(600)
"""

POLITE = """
import time
print(0, flush=True)
time.sleep(600)
"""


@pytest.fixture
async def started() -> AsyncIterator[list[anyio.abc.Process]]:
    """Processes a test starts; whatever of their groups is left when it ends (a failed test) is killed."""
    processes: list[anyio.abc.Process] = []
    yield processes
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.aclose()  # waits, and closes its stdout pipe


async def start_server(script: str, processes: list[anyio.abc.Process]) -> tuple[anyio.abc.Process, int]:
    """Starts `script` in its own session; returns once it has printed its line (the pid it reports)."""
    process = await anyio.open_process(
        [sys.executable, "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    processes.append(process)
    assert process.stdout is not None
    received = b""
    with anyio.fail_after(BOUND_S):
        while not received.endswith(b"\n"):
            received += await process.stdout.receive()
    return process, int(received)


async def until_gone(pid: int) -> None:
    """Another process's death has no event to wait on: poll, bounded."""
    with anyio.fail_after(BOUND_S):
        while True:
            if not is_alive(pid):
                return
            await anyio.sleep(0.01)


async def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_and_reaped(
    started: list[anyio.abc.Process],
) -> None:
    server, _ = await start_server(STUBBORN, started)

    with anyio.fail_after(BOUND_S):
        await stop_child(server, grace=0.2)

    assert server.returncode == -signal.SIGKILL
    assert not await anyio.Path(f"/proc/{server.pid}").exists()  # reaped: no zombie left in the process table


async def test_stopping_a_server_also_kills_what_it_started(started: list[anyio.abc.Process]) -> None:
    server, helper = await start_server(STUBBORN, started)
    assert is_alive(helper)

    with anyio.fail_after(BOUND_S):
        await stop_child(server, grace=0.2)

    await until_gone(helper)


async def test_a_server_that_exits_on_sigterm_is_not_waited_for_until_the_grace(
    started: list[anyio.abc.Process],
) -> None:
    server, _ = await start_server(POLITE, started)

    with anyio.fail_after(BOUND_S):
        await stop_child(server, grace=3600.0)

    assert server.returncode == -signal.SIGTERM
