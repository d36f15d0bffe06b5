"""The watch stream, read as JSON lines straight off the socket.

kubernetes_asyncio's `Watch` reconnects on its own with whatever resourceVersion it saw last (including ones from
the unordered initial ADDED burst), retries a 410 with the same stale version, deserialises every event twice,
and reads lines with a bounded buffer. The reflector needs the opposite: every end of stream reported to it, so
it alone decides between re-watch and relist. Hence this reader:

- bytes are read in chunks and split on newlines here, so an event of any size is accepted;
- an `ERROR` event becomes the typed error for its `Status` (410 -> `Gone`);
- no bytes for `inactivity` seconds raises `WatchInactive`; bookmarks, which the reflector always requests,
  keep a healthy idle stream under that deadline.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anyio
import attrs

from api.objects import metadata
from controller.kube.errors import ConnectionFailed, KubeError, WatchInactive, error_from_status

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"


@attrs.frozen(kw_only=True)
class WatchEvent:
    """One event: `type` is ADDED, MODIFIED, DELETED or BOOKMARK; `object` is the plain JSON object."""

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str(metadata(self.object).get("resourceVersion") or "")


class LineSplitter:
    """Cuts a byte stream into lines, holding a partial line until its newline arrives; no length limit."""

    def __init__(self) -> None:
        # Invariant: `_pending` never contains b"\n"; it is the unterminated tail of what was fed so far.
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            self._pending += chunk
            return []
        self._pending += chunk
        *lines, tail = bytes(self._pending).split(b"\n")
        self._pending = bytearray(tail)
        return [line for line in lines if line.strip()]

    def tail(self) -> bytes:
        """What is left when the stream ends; a complete JSON object if the server omitted the last newline."""
        return bytes(self._pending).strip()


def parse_event(line: bytes) -> WatchEvent:
    """One watch line to a `WatchEvent`, raising the typed error for an `ERROR` event or a bare `Status`."""
    try:
        raw = json.loads(line)
    except ValueError as err:
        raise KubeError(f"watch stream sent a line that is not JSON: {line[:200]!r}") from err
    if not isinstance(raw, dict):
        raise KubeError(f"watch stream sent a non-object line: {line[:200]!r}")
    event_type = raw.get("type")
    obj = raw.get("object")
    if event_type == ERROR or (event_type is None and raw.get("kind") == "Status"):
        status = obj if isinstance(obj, dict) else raw
        return _raise(error_from_status(int(status.get("code") or 500), status, context="watch"))
    if not isinstance(event_type, str) or not isinstance(obj, dict):
        raise KubeError(f"watch event without type or object: {line[:200]!r}")
    return WatchEvent(type=event_type, object=obj)


def _raise(error: KubeError) -> WatchEvent:
    raise error


class WatchStream:
    """Events from one open watch response; iteration ends when the server closes the stream cleanly.

    The owner (`KubeClient.watch`) releases the response; this only reads it.
    """

    def __init__(self, response: aiohttp.ClientResponse, *, inactivity: float) -> None:
        self._response = response
        self._inactivity = inactivity
        self._lines = LineSplitter()
        self._ready: list[bytes] = []
        self._eof = False

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> WatchEvent:
        while not self._ready:
            if self._eof:
                raise StopAsyncIteration
            chunk = await self._read_chunk()
            if chunk:
                self._ready = self._lines.feed(chunk)
                continue
            self._eof = True
            tail = self._lines.tail()
            if tail:
                self._ready = [tail]
        return parse_event(self._ready.pop(0))

    async def _read_chunk(self) -> bytes:
        try:
            with anyio.fail_after(self._inactivity):
                return await self._response.content.readany()
        except TimeoutError:
            raise WatchInactive(
                f"watch delivered no bytes for {self._inactivity:.0f}s; connection presumed dead"
            ) from None
        except aiohttp.ClientError as err:
            raise ConnectionFailed(f"watch stream broke: {err}") from err
