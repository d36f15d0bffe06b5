"""SIGTERM stops a real manager process gracefully: a reconcile in flight finishes, then the controller stops
(while its cache is still live), and the process exits 0 within its grace period."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import ByteReceiveStream
from anyio.streams.buffered import BufferedByteReceiveStream

from controller.kube import KubeClient
from controller.kube.resources import CONFIG_MAPS
from tests.integration.runtime.manager_program import GRACE_SECONDS, LABEL

pytestmark = pytest.mark.cluster

PROGRAM = Path(__file__).with_name("manager_program.py")
REPO = Path(__file__).resolve().parents[3]


class LogLines:
    """The program's stdout, one JSON log entry per line; every entry read so far is kept in `entries`."""

    def __init__(self, stdout: ByteReceiveStream) -> None:
        self._stream = BufferedByteReceiveStream(stdout)
        self.entries: list[dict[str, Any]] = []

    async def until(self, event: str) -> None:
        while not self.entries or self.entries[-1]["event"] != event:
            await self._read_one()

    async def to_end(self) -> None:
        try:
            while True:
                await self._read_one()
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return

    async def _read_one(self) -> None:
        line = (await self._stream.receive_until(b"\n", 1 << 20)).decode()
        self.entries.append(json.loads(line) if line.startswith("{") else {"event": line})

    def events(self) -> list[str]:
        return [entry["event"] for entry in self.entries]


async def test_sigterm_lets_an_in_flight_reconcile_finish_before_the_controller_stops(
    kube: KubeClient, kubeconfig_path: Path, namespace: str
) -> None:
    async with await anyio.open_process(
        [sys.executable, str(PROGRAM), str(kubeconfig_path), namespace], cwd=REPO
    ) as process:
        assert process.stdout is not None
        lines = LogLines(process.stdout)
        with anyio.fail_after(30):
            await lines.until("running")
            key, _, value = LABEL.partition("=")
            slow = {"metadata": {"name": "slow", "namespace": namespace, "labels": {key: value}}}
            await kube.create(CONFIG_MAPS, slow)
            await lines.until("reconcile started")
        process.send_signal(signal.SIGTERM)
        # A guard against a hung process, not a measurement: the log below says whether the grace was kept.
        with anyio.fail_after(GRACE_SECONDS + 10):
            await lines.to_end()
            returncode = await process.wait()

    events = lines.events()
    assert "reconcile cancelled" not in events
    assert not [event for event in events if event.startswith("graceful shutdown timed out")]
    assert (
        events.index("reconcile finished")
        < events.index("controller stopped")
        < events.index("manager exited")
    )
    [finished] = [entry for entry in lines.entries if entry["event"] == "reconcile finished"]
    assert finished["cache_live"] is True
    assert returncode == 0
