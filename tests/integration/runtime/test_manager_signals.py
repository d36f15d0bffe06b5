"""SIGTERM stops a real manager process gracefully: controllers first, while caches are still live; exit 0."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import pytest

pytestmark = pytest.mark.cluster

PROGRAM = Path(__file__).with_name("manager_program.py")
REPO = Path(__file__).resolve().parents[3]


async def test_sigterm_drains_controllers_before_caches_and_exits_cleanly(
    kubeconfig_path: Path, namespace: str
) -> None:
    async with await anyio.open_process(
        [sys.executable, str(PROGRAM), str(kubeconfig_path), namespace], cwd=REPO
    ) as process:
        assert process.stdout is not None
        output = b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                output += chunk
                if b"running" in output:
                    break
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):
            async for chunk in process.stdout:
                output += chunk
            returncode = await process.wait()
    lines = [line for line in output.decode().splitlines() if not line.startswith("20")]
    assert lines == ["running", "controller stopped; cache live=True", "manager exited"]
    assert returncode == 0
