"""The control-plane process supervisor stops whole process groups and reports why a component died."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hack.localcluster.processes import ManagedProcess, ProcessExitedError, surviving_processes


def _wait_for(condition: Callable[[], object], *, seconds: float = 10.0) -> None:
    # Waits on real child processes (no clock to inject): poll with a deadline, never a fixed sleep.
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_stop_ends_the_children_a_component_spawned(tmp_path: Path) -> None:
    process = ManagedProcess(
        name="parent", argv=["bash", "-c", "sleep 300 & sleep 300"], log_path=tmp_path / "log"
    )
    process.start()
    group = process.process_group_ids
    _wait_for(lambda: len(surviving_processes(group)) >= 3)  # bash and both sleeps

    process.stop()

    assert surviving_processes(group) == []


def test_stop_kills_a_component_that_ignores_sigterm(tmp_path: Path) -> None:
    process = ManagedProcess(
        name="stubborn", argv=["bash", "-c", "trap '' TERM; echo armed; sleep 300"], log_path=tmp_path / "log"
    )
    process.start()
    _wait_for(lambda: "armed" in process.log_tail())

    process.stop(grace_seconds=0.2)

    assert surviving_processes(process.process_group_ids) == []


def test_a_dead_component_is_reported_with_its_exit_status_and_log(tmp_path: Path) -> None:
    process = ManagedProcess(
        name="etcd", argv=["sh", "-c", "echo 'bind: address in use'; exit 3"], log_path=tmp_path / "log"
    )
    process.start()
    _wait_for(lambda: process.returncode is not None)

    with pytest.raises(ProcessExitedError, match=r"(?s)etcd exited with status 3.*bind: address in use"):
        process.check_alive()
    process.stop()


def test_a_component_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    starter = (
        "import pathlib, time\n"
        "from hack.localcluster.processes import ManagedProcess\n"
        f"p = ManagedProcess(name='child', argv=['sleep', '300'], log_path=pathlib.Path({str(tmp_path / 'log')!r}))\n"
        "p.start()\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())

    parent.kill()  # no atexit, no finally: only the kernel can clean up now
    parent.wait()

    _wait_for(lambda: surviving_processes([child]) == [])
