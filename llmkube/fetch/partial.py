"""The download in progress: an append-only file hashed as it is written.

The sha256 is computed from the bytes on their way to disk, never by reading the file again; the one exception is
resuming a partial left by an earlier process, whose prefix is hashed once before appending. A partial is resumed
only when its side file names the same source and a validator (ETag / Last-Modified) that the server can confirm
with `If-Range`; anything else is truncated, because appending to bytes of unknown origin yields a file that
verifies against nothing.

Each chunk is written by a worker thread while a second, owned thread hashes it (both release the GIL), and the
event loop keeps reading the socket meanwhile: receiving, storing and hashing overlap instead of adding up, which
is what keeps the fetch close to a plain `curl -o` although it does strictly more.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
import attrs

from api.v1alpha1.converter import to_wire
from llmkube.fetch.cache import CacheEntry, read_json, write_json_durably
from llmkube.fetch.errors import CacheUnavailable, FetchError, cache_unavailable
from llmkube.fetch.log import log_event
from llmkube.fetch.progress import ProgressMeter

HEAD_SIZE = 4
READ_CHUNK = 4 << 20

#: Called with the first bytes of the file; raises to abort a download that is plainly not what we want.
HeadCheck = Callable[[bytes], None]


@attrs.frozen(kw_only=True)
class PartialMeta:
    source_identity: str
    validator: str | None = None
    bytes_total: int | None = None


class PartialFile:
    """Invariant: `offset` bytes are in the file and all of them, in order, went through `_hasher`;
    `_head` holds the first `HEAD_SIZE` of them (fewer while the file is shorter)."""

    def __init__(
        self, *, entry: CacheEntry, source_identity: str, meter: ProgressMeter, check_head: HeadCheck
    ) -> None:
        self._entry = entry
        self._identity = source_identity
        self._meter = meter
        self._check_head = check_head
        self._hasher: Any = hashlib.sha256()
        self._head = b""
        self._head_checked = False
        self._fd = -1
        #: Hashes chunk n while the calling worker thread writes it; joined before `write` returns.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self.offset = 0
        self.validator: str | None = None
        self.bytes_total: int | None = None

    async def open(self) -> None:
        await self._run(self._open_sync)

    async def write(self, chunks: Sequence[bytes]) -> None:
        await self._run(self._write_sync, chunks)
        self._meter.set_done(self.offset)

    async def restart(self) -> None:
        """Start over from byte 0 (the server ignored Range, or the content changed under us)."""
        await self._run(self._truncate_sync)
        self._meter.set_done(0)

    async def begin(self, *, validator: str | None, bytes_total: int | None) -> None:
        """Record what a fresh download is fetching, so a later process can resume it with If-Range."""
        self.validator, self.bytes_total = validator, bytes_total
        self._meter.set_total(bytes_total)
        meta = PartialMeta(source_identity=self._identity, validator=validator, bytes_total=bytes_total)
        await self._run(write_json_durably, self._entry.partial_meta, to_wire(meta))
        if bytes_total is not None:
            await self._run(self._ensure_space_sync, bytes_total - self.offset)

    async def finish(self) -> tuple[str, int]:
        """Make the bytes durable and return (sha256 hex, size)."""
        await self._run(os.fsync, self._fd)
        return self._hasher.hexdigest(), self.offset

    def close(self) -> None:
        self._hashing.shutdown(wait=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(func, *args)
        except OSError as exc:
            raise cache_unavailable(exc, self._entry.directory) from exc

    def _open_sync(self) -> None:
        meta = read_json(self._entry.partial_meta, PartialMeta)
        self._fd = os.open(self._entry.partial, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if meta is None or meta.source_identity != self._identity or meta.validator is None:
            self._truncate_sync()
            return
        self._hash_existing_prefix()
        self.validator, self.bytes_total = meta.validator, meta.bytes_total
        self._meter.set_total(meta.bytes_total)
        if self.offset:
            log_event("resume", fromByte=self.offset, bytesTotal=meta.bytes_total)

    def _hash_existing_prefix(self) -> None:
        while chunk := os.pread(self._fd, READ_CHUNK, self.offset):
            self._account(chunk)
        try:
            self._check_head_once()
        except FetchError:
            # A prefix that is not GGUF came from a broken earlier attempt; start clean rather than fail.
            self._truncate_sync()
        self._meter.set_done(self.offset)

    def _truncate_sync(self) -> None:
        os.ftruncate(self._fd, 0)
        self._hasher = hashlib.sha256()
        self._head = b""
        self._head_checked = False
        self.offset = 0
        self.validator = self.bytes_total = None

    def _write_sync(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            if len(self._head) == HEAD_SIZE:
                break
            self._note_head(chunk)
        self._check_head_once()
        hashed = self._hashing.submit(self._hash_all, chunks)
        try:
            size = sum(len(chunk) for chunk in chunks)
            if os.writev(self._fd, chunks) != size:  # short writes are rare on files; finish them plainly
                os.ftruncate(self._fd, self.offset)
                for chunk in chunks:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(self._fd, view) :]
        finally:
            hashed.result()
        self.offset += size

    def _hash_all(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._hasher.update(chunk)

    def _account(self, chunk: bytes) -> None:
        self._hasher.update(chunk)
        self._note_head(chunk)
        self.offset += len(chunk)

    def _note_head(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_SIZE:
            self._head += chunk[: HEAD_SIZE - len(self._head)]

    def _check_head_once(self) -> None:
        if not self._head_checked and len(self._head) == HEAD_SIZE:
            self._head_checked = True
            self._check_head(self._head)

    def _ensure_space_sync(self, needed: int) -> None:
        stats = os.statvfs(self._entry.directory)
        free = stats.f_bavail * stats.f_frsize
        if needed > free:
            raise CacheUnavailable(
                f"no space left on the cache volume at {self._entry.directory}: the model needs {needed} more "
                f"bytes but {free} are free: raise spec.cache.size or free space in the cache"
            )
