"""Only one real node per machine: a second claimant waits, says for whom, and gives up at its deadline."""

from __future__ import annotations

from pathlib import Path

import pytest

from hack.localcluster.machinelock import MachineLock, MachineLockTimeoutError


def test_a_second_claimant_waits_naming_the_holder_and_times_out(tmp_path: Path) -> None:
    said: list[str] = []
    first = MachineLock.acquire(directory=tmp_path)
    try:
        with pytest.raises(MachineLockTimeoutError, match="only one real node"):
            MachineLock.acquire(directory=tmp_path, timeout_seconds=0.3, say=said.append)
    finally:
        first.release()

    assert said
    assert "waiting for the real node of pid" in said[0]


def test_the_lock_is_free_again_once_released(tmp_path: Path) -> None:
    MachineLock.acquire(directory=tmp_path).release()

    second = MachineLock.acquire(directory=tmp_path, timeout_seconds=0.3)
    second.release()
