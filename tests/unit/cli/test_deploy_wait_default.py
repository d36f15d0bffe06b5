"""`deploy --wait` is the default where someone watches (stdout is a terminal) and off in pipes and CI logs.

The command runs for real up to the cluster work, which is replaced by a recorder; stdout is a real terminal
(a pseudo-terminal) or a real pipe, so the check is the one a user's shell makes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import IO

import pytest
from rich.console import Console

from llmkube.cli import deploy as deploy_command
from llmkube.cli.cluster import ClusterTarget
from llmkube.cli.deploy import DeployPlanFactory
from llmkube.cli.main import app


class RecordedDeploy:
    def __init__(self) -> None:
        self.waits: list[bool] = []

    async def __call__(
        self,
        *,
        target: ClusterTarget,
        plan_for: DeployPlanFactory,
        wait: bool,
        timeout_s: float,
        console: Console,
    ) -> int:
        self.waits.append(wait)
        return 0


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordedDeploy:
    recorder = RecordedDeploy()
    monkeypatch.setattr(deploy_command, "_deploy", recorder)
    return recorder


@pytest.fixture
def terminal() -> Iterator[IO[str]]:
    leader, follower = os.openpty()
    with open(follower, "w") as stream:
        yield stream
    os.close(leader)


@pytest.fixture
def pipe() -> Iterator[IO[str]]:
    reader, writer = os.pipe()
    with open(writer, "w") as stream:
        yield stream
    os.close(reader)


def run_deploy(monkeypatch: pytest.MonkeyPatch, stdout: IO[str], *flags: str) -> None:
    monkeypatch.setattr(sys, "stdout", stdout)
    app(["deploy", "smollm2-135m", *flags], standalone_mode=False)


def test_deploy_on_a_terminal_waits_for_ready_by_default(
    monkeypatch: pytest.MonkeyPatch, recorded: RecordedDeploy, terminal: IO[str]
) -> None:
    assert terminal.isatty()
    run_deploy(monkeypatch, terminal)
    assert recorded.waits == [True]


def test_deploy_into_a_pipe_returns_once_applied_by_default(
    monkeypatch: pytest.MonkeyPatch, recorded: RecordedDeploy, pipe: IO[str]
) -> None:
    assert not pipe.isatty()
    run_deploy(monkeypatch, pipe)
    assert recorded.waits == [False]


def test_no_wait_on_a_terminal_returns_once_applied(
    monkeypatch: pytest.MonkeyPatch, recorded: RecordedDeploy, terminal: IO[str]
) -> None:
    run_deploy(monkeypatch, terminal, "--no-wait")
    assert recorded.waits == [False]


def test_wait_into_a_pipe_waits(
    monkeypatch: pytest.MonkeyPatch, recorded: RecordedDeploy, pipe: IO[str]
) -> None:
    run_deploy(monkeypatch, pipe, "--wait")
    assert recorded.waits == [True]
