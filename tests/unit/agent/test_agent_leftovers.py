from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkube.agent.leftovers import ServerRecord, ServerRegistry, is_alive, stop_leftovers


def test_the_registry_remembers_servers_across_instances(tmp_path: Path) -> None:
    ServerRegistry(tmp_path).add(ServerRecord(key="ns/chat", pid=4242, binary="/bin/llama-server"))
    assert ServerRegistry(tmp_path).recorded() == [
        ServerRecord(key="ns/chat", pid=4242, binary="/bin/llama-server")
    ]


def test_removing_a_replaced_pid_keeps_the_newer_record(tmp_path: Path) -> None:
    registry = ServerRegistry(tmp_path)
    registry.add(ServerRecord(key="ns/chat", pid=2, binary="b"))
    registry.remove("ns/chat", 1)
    assert [r.pid for r in registry.recorded()] == [2]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, like a server the agent started."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


async def test_a_recorded_pid_running_another_program_is_left_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ServerRegistry(tmp_path).add(ServerRecord(key="ns/chat", pid=sleeper.pid, binary="/no/such/llama-server"))
    stopped = await stop_leftovers(ServerRegistry(tmp_path), grace=1.0)
    assert stopped == []
    assert is_alive(sleeper.pid)


async def test_a_leftover_server_is_stopped_and_forgotten(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    ServerRegistry(tmp_path).add(ServerRecord(key="ns/chat", pid=sleeper.pid, binary=sys.executable))
    stopped = await stop_leftovers(ServerRegistry(tmp_path), grace=5.0)
    assert [r.pid for r in stopped] == [sleeper.pid]
    assert not is_alive(sleeper.pid)
    assert ServerRegistry(tmp_path).recorded() == []
