"""One writer per cache entry, across processes and pods.

Two Models with the same source share a cache key, and their download Jobs (or a Job and a host agent on the
same disk) may start together. Both would append to the same `model.gguf.partial` and interleave their bytes,
while each hashed only its own stream: the published file would be corrupt under a digest that vouches for it.
An exclusive `flock` on `<entry>/.lock` makes the second fetch wait; once it holds the lock it finds the first
one's published file and reuses it. The lock is advisory and dies with its process, so a killed Job never
leaves the entry locked. The wait polls with a non-blocking attempt so that it stays cancellable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from llmkube.fetch.errors import cache_unavailable
from llmkube.fetch.log import log_event

LOCK_FILE = ".lock"
POLL_SECONDS = 0.5


@contextlib.asynccontextmanager
async def exclusive_entry(directory: Path) -> AsyncIterator[None]:
    """Hold the entry's lock for the duration of the block, waiting as long as another fetch holds it."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise cache_unavailable(exc, directory) from exc
    try:
        waited = False
        while not _try_lock(fd):
            if not waited:
                log_event(
                    "waiting", reason="another fetch of the same file holds its cache entry", path=str(path)
                )
                waited = True
            await anyio.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
