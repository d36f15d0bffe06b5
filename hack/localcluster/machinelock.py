"""The machine-wide lock a real node holds for its whole life.

Only one real node can exist on a machine: kube-proxy's KUBE-* chains, the kubelet's `kubepods` cgroups, the
node's address and bridge are all machine-wide. Several test runs may share the machine, so a second real node
waits for the first to be gone (saying whom it waits for) instead of wrecking it. The lock is an flock on a file
under ~/.cache/llmkube, released by the kernel if its holder dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

REAL_NODE_DIR = Path(os.environ.get("LLMKUBE_CACHE", Path.home() / ".cache" / "llmkube")) / "real-node"
#: containerd's root when a node keeps its images between clusters (imagestore.py); used under this lock only.
IMAGE_STORE = REAL_NODE_DIR / "containerd-root"
_POLL_SECONDS = 0.5
_REMIND_SECONDS = 60.0


class MachineLockTimeoutError(TimeoutError):
    pass


class MachineLock:
    def __init__(self, handle: IO[str], *, path: Path) -> None:
        self._handle: IO[str] | None = handle
        self.path = path

    @classmethod
    def acquire(
        cls,
        *,
        directory: Path = REAL_NODE_DIR,
        timeout_seconds: float = 1800.0,
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> MachineLock:
        """Takes the lock, waiting up to `timeout_seconds` (and saying so) while another real node holds it."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "lock"
        handle = path.open("a+")
        deadline = time.monotonic() + timeout_seconds
        next_reminder = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now > deadline:
                    handle.close()
                    raise MachineLockTimeoutError(
                        f"another real node still holds {path} after {timeout_seconds:.0f}s ({_holder(path)}); "
                        "only one real node can run on a machine at a time"
                    ) from None
                if now >= next_reminder:
                    say(f"waiting for the real node of {_holder(path)} to stop (lock {path})")
                    next_reminder = now + _REMIND_SECONDS
                time.sleep(_POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        command = " ".join(Path(f"/proc/{os.getpid()}/cmdline").read_text().split("\0")).strip()
        handle.write(f"pid {os.getpid()} ({command[:200]}), since {datetime.now(UTC):%H:%M:%S} UTC\n")
        handle.flush()
        return cls(handle, path=path)

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "an unknown process"
    except OSError:
        return "an unknown process"
