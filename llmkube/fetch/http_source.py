"""http(s) downloads that survive broken connections.

Each attempt asks for the bytes the sink lacks (`Range: bytes=<offset>-`, guarded by `If-Range` with the
validator of the response that started the file). A 206 must start exactly at the offset; a 200 means the server
ignored the range or the file changed, so the sink starts over. Status codes that no retry can fix (404, 401/403)
fail at once with a message that says what to change; everything else is retried with backoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import aiohttp
import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from llmkube.fetch.errors import FetchError, SourceNotFound, TransientError, Unauthorized
from llmkube.fetch.retry import Backoff, Sleep, with_retries
from llmkube.fetch.source import Fetched, Sink

BATCH = 4 << 20
#: Batches read ahead of the writer: bounds the memory a slow disk can make the download hold (16 MiB).
PIPELINE_DEPTH = 4
USER_AGENT = "llmkube-fetch"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@attrs.frozen(kw_only=True)
class Timeouts:
    connect_s: float = 30.0
    #: Longest silence while reading; a stalled transfer is cut and resumed rather than waited on forever.
    idle_read_s: float = 60.0


@attrs.frozen(kw_only=True)
class HttpSource:
    url: str
    identity: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeouts: Timeouts = Timeouts()
    backoff: Backoff = Backoff()
    sleep: Sleep = anyio.sleep
    #: How to find the file again when it is missing; HuggingFace sources say "check repo and filename".
    not_found_hint: str = "check the URL"
    resolved_revision: str | None = None

    async def fetch_into(self, sink: Sink) -> Fetched:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeouts.connect_s, sock_read=self.timeouts.idle_read_s
        )
        async with aiohttp.ClientSession(
            timeout=timeout, auto_decompress=False, read_bufsize=2 * BATCH, trust_env=True
        ) as session:
            await with_retries(
                lambda: self._attempt(session, sink),
                backoff=self.backoff,
                sleep=self.sleep,
                what=f"downloading {self.identity}",
                progress=lambda: sink.offset,
            )
        return Fetched(resolved_revision=self.resolved_revision)

    async def _attempt(self, session: aiohttp.ClientSession, sink: Sink) -> None:
        headers = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT, **self.headers}
        if sink.offset:
            headers["Range"] = f"bytes={sink.offset}-"
            if sink.validator:
                headers["If-Range"] = sink.validator
        try:
            async with session.get(self.url, headers=headers) as response:
                if not await self._start(response, sink):
                    return
                await _stream(response, sink)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if sink.bytes_total is not None and sink.offset != sink.bytes_total:
            raise TransientError(f"connection ended at byte {sink.offset} of {sink.bytes_total}")

    async def _start(self, response: aiohttp.ClientResponse, sink: Sink) -> bool:
        """Line the sink up with what the server is about to send; False when nothing is left to read."""
        status = response.status
        if status == 200:
            if sink.offset:
                await sink.restart()  # Range ignored, or If-Range said the file changed: start over
            await sink.begin(validator=_validator(response), bytes_total=response.content_length)
            return True
        if status == 206:
            await self._continue(response, sink)
            return True
        if status == 416:
            if sink.bytes_total is not None and sink.offset == sink.bytes_total:
                return False  # an earlier attempt already got every byte
            refused = f"source {self.identity} refused Range bytes={sink.offset}-; starting over"
            await sink.restart()
            raise TransientError(refused)
        self._raise_for(status)
        return False

    async def _continue(self, response: aiohttp.ClientResponse, sink: Sink) -> None:
        match = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        start = int(match.group(1)) if match else -1
        total = int(match.group(3)) if match and match.group(3) != "*" else None
        if start != sink.offset or (sink.bytes_total is not None and total != sink.bytes_total):
            await sink.restart()
            raise TransientError(
                f"server answered Range bytes={sink.offset}- with Content-Range "
                f"{response.headers.get('Content-Range')!r}; starting over"
            )
        if sink.bytes_total is None and total is not None:
            await sink.begin(validator=sink.validator, bytes_total=total)

    def _raise_for(self, status: int) -> None:
        where = f"source {self.identity} returned {status}"
        if status in (404, 410):
            raise SourceNotFound(f"{where}: {self.not_found_hint}")
        if status in (401, 403):
            raise Unauthorized(
                f"{where}: the source needs credentials (for HuggingFace: set source.huggingFace.tokenSecretRef "
                "to a Secret with a token that can read the repository, and accept its license if gated)"
            )
        if status in RETRYABLE_STATUS or status >= 500:
            raise TransientError(f"{where}")
        raise SourceNotFound(f"{where}: {self.not_found_hint}")


async def _stream(response: aiohttp.ClientResponse, sink: Sink) -> None:
    """Copy the body into the sink in batches of a few MiB, reading on while earlier batches are written.

    The socket delivers ~256 KiB at a time; a few MiB per sink call keeps thread hops rare. Writing (and hashing)
    happens in a task of its own fed through a small bounded buffer, so the socket keeps being read while a batch
    is on its way to disk: awaiting each write in turn left the connection idle for a third of the download. A
    batch in hand when the connection breaks is still written, so the resume starts as late as possible.
    """
    send, receive = anyio.create_memory_object_stream[list[bytes]](max_buffer_size=PIPELINE_DEPTH)

    async def write_batches() -> None:
        async with receive:
            async for batch in receive:
                await sink.write(batch)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_batches)
            await _read_batches(response, send)
    except BaseExceptionGroup as group:
        # Callers classify failures by type (no space, broken connection): hand them the failure, not a group.
        raise _first_failure(group) from None


async def _read_batches(response: aiohttp.ClientResponse, send: MemoryObjectSendStream[list[bytes]]) -> None:
    async with send:
        batch: list[bytes] = []
        batched = 0
        try:
            async for chunk in response.content.iter_chunked(BATCH):
                batch.append(chunk)
                batched += len(chunk)
                if batched >= BATCH:
                    await send.send(batch)
                    batch, batched = [], 0
        finally:
            if batch:
                await send.send(batch)


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The failure to report from a group: a fetch error (it carries the reason) before anything else."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    return next((e for e in leaves if isinstance(e, FetchError)), leaves[0])


def _validator(response: aiohttp.ClientResponse) -> str | None:
    """A validator If-Range accepts: a strong ETag, else Last-Modified (weak ETags are not allowed there)."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")
