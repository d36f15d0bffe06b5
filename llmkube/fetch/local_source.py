"""Files already reachable from the pod: `file://` URLs and paths on a mounted (pre-populated) volume.

They are copied into the cache like any download, hashed on the way, so serving pods only ever mount the cache
and a file on a shared volume that changes later cannot change a model that is already Ready.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import attrs

from llmkube.fetch.errors import NetworkError, SourceNotFound, Unauthorized
from llmkube.fetch.source import Fetched, Sink

CHUNK = 4 << 20


def path_from_file_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise SourceNotFound(f"source {url} names host {parts.netloc!r}: use file:///absolute/path.gguf")
    return Path(unquote(parts.path))


@attrs.frozen(kw_only=True)
class LocalFileSource:
    path: Path
    identity: str

    async def fetch_into(self, sink: Sink) -> Fetched:
        try:
            fd = await anyio.to_thread.run_sync(os.open, self.path, os.O_RDONLY)
        except OSError as exc:
            raise self._error(exc) from exc
        try:
            size = os.fstat(fd).st_size
            # Local reads never break half-way in a way resuming would fix; start clean for a simple contract.
            if sink.offset:
                await sink.restart()
            await sink.begin(validator=None, bytes_total=size)
            while chunk := await self._read(fd, sink.offset):
                await sink.write([chunk])
        finally:
            os.close(fd)
        return Fetched()

    async def _read(self, fd: int, offset: int) -> bytes:
        try:
            return await anyio.to_thread.run_sync(os.pread, fd, CHUNK, offset)
        except OSError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> Exception:
        where = f"source {self.identity}"
        if exc.errno == errno.ENOENT:
            return SourceNotFound(
                f"{where} does not exist: check the path and that the volume holding it is the one mounted"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Unauthorized(
                f"{where} is not readable: check the file's permissions and the pod's fsGroup"
            )
        if exc.errno == errno.EISDIR:
            return SourceNotFound(f"{where} is a directory: name the .gguf file inside it")
        return NetworkError(f"{where} could not be read ({exc.strerror or exc}): check the volume")
