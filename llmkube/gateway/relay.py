"""Streamed answers relayed from the server's socket to the client's inside the event loop's own callbacks.

A stream's tokens leave llama-server together, one chunk per stream per decoding step, and the next request
usually arrives in that same instant (a client sends it as soon as its last answer ends). Passed through
aiohttp's client (its parser, a StreamReader, the handler's task woken, the server's writer) every chunk cost
the gateway's one event loop tens of microseconds, so a request arriving with 15 other streams' chunks waited
behind all of them. Here the upstream connection's protocol parses the answer with httptools (llhttp, the
parser aiohttp itself uses) and writes each chunk to the client's socket from the callback that received it:
the handler's task wakes only for the answer's head, its first chunk and its end.

Streams only: llama-server closes a streamed answer's connection after it, so every stream has a connection of
its own and nothing is pooled; non-streamed answers go through aiohttp's pooled client.

A client that reads slower than the server writes does not grow the gateway's memory: past `HIGH_WATER` bytes
waiting for the client, reading from the server pauses until the client's connection drains, and the server's
silence while paused does not count against its idle timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import attrs
import httptools

#: Pause reading from the server while this much of its answer waits to reach the client.
HIGH_WATER = 256 * 1024


class UpstreamError(Exception):
    """The server broke off the exchange: it closed early or sent something that is not HTTP."""


class UpstreamTimeout(UpstreamError, TimeoutError):
    """The server sent nothing for the idle timeout."""


class ConnectFailed(Exception):
    """No connection to the server: nothing reached it, so another replica may take the request."""


class ClientGone(Exception):
    """The client's connection closed while its answer was being relayed."""


@attrs.frozen(kw_only=True)
class Head:
    status: int
    reason: str
    #: Names lower-cased, in the order received.
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    @property
    def content_length(self) -> int | None:
        value = self.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.get("transfer-encoding") or "").lower()


def encode_request(*, path: str, authority: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """An HTTP/1.1 POST with a length; a header whose value could split the request is left out."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if not _splits_lines(name + value)]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _splits_lines(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


async def open_exchange(
    host: str, port: int, request: bytes, *, connect_timeout: float, idle_timeout: float | None
) -> Exchange:
    """Connect to the server and send it `request`; `ConnectFailed` when no connection could be made."""
    loop = asyncio.get_running_loop()
    exchange = Exchange(request, idle_timeout=idle_timeout)
    try:
        async with asyncio.timeout(connect_timeout):
            await loop.create_connection(lambda: exchange, host, port)
    except TimeoutError:
        raise ConnectFailed(f"no connection within {connect_timeout:g}s") from None
    except OSError as exc:
        raise ConnectFailed(exc.strerror or str(exc)) from None
    return exchange


class Exchange(asyncio.Protocol):
    """One request to a server and its answer, over a connection of its own.

    The handler awaits `head()`, then `first_chunk()`, then hands the client's transport to `relay()`, which
    returns once the answer has ended; `close()` in any case. Failures surface from those awaits as
    `UpstreamError` (or `UpstreamTimeout`); the parser's callbacks themselves never raise.
    """

    def __init__(self, request: bytes, *, idle_timeout: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._request = request
        self._idle_timeout = idle_timeout
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._reason = b""
        self._headers: list[tuple[str, str]] = []
        self._head: Head | None = None
        self._first: bytes | None = None
        #: Body that arrived after the first chunk and before the client was attached.
        self._pending: list[bytes] = []
        self._client: asyncio.Transport | None = None
        self._chunked_to_client = False
        self._paused = False
        self._client_gone = False
        self._complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._last_read = self._loop.time()
        self._watchdog: asyncio.TimerHandle | None = None
        #: `time.monotonic()` when the answer's first body bytes (or its end, if it has none) arrived.
        self.first_byte_at: float | None = None

    # -- what the handler awaits -----------------------------------------------------------------------------

    async def head(self) -> Head:
        await self._until(lambda: self._head is not None)
        assert self._head is not None
        return self._head

    async def first_chunk(self) -> bytes:
        """The answer's first body bytes; empty when the answer has no body."""
        await self._until(lambda: self._first is not None)
        assert self._first is not None
        return self._first

    async def relay(
        self, client: asyncio.Transport, *, chunked: bool, drain: Callable[[], Awaitable[None]]
    ) -> None:
        """Write the rest of the answer to `client` as it arrives (framed as chunks when `chunked`), until
        it ends; `drain` waits for the client's connection to take what it holds (the web server's writer's)."""
        self._client = client
        self._chunked_to_client = chunked
        pending, self._pending = self._pending, []
        for body in pending:
            self._forward(body)
        while True:
            await self._until(lambda: self._complete or self._paused or self._client_gone)
            if self._client_gone:
                raise ClientGone
            if self._complete:
                return
            try:
                await drain()
            except ConnectionError:
                raise ClientGone from None
            self._paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._last_read = self._loop.time()
                self._transport.resume_reading()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None and not self._complete:
            self._error = error
        self.close()
        self._wake()

    # -- asyncio.Protocol --------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        transport = self._transport
        transport.write(self._request)
        self._request = b""  # the transport holds what it has not sent; a long stream need not keep a copy
        self._last_read = self._loop.time()
        if self._idle_timeout is not None:
            self._watchdog = self._loop.call_later(self._idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"the server's answer is not valid HTTP ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost tells whether the answer was whole

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._complete or self._error is not None:
            return
        head = self._head
        if head is not None and head.content_length is None and not head.chunked:
            # An answer without a length or chunks ends when the server closes the connection.
            self.on_message_complete()
            return
        reason = f": {exc}" if exc is not None else ""
        self._fail(UpstreamError(f"the server closed the connection before its answer ended{reason}"))

    def _check_idle(self) -> None:
        assert self._idle_timeout is not None
        silent = self._loop.time() - self._last_read
        if self._paused or silent < self._idle_timeout:
            wait = self._idle_timeout if self._paused else self._idle_timeout - silent
            self._watchdog = self._loop.call_later(wait, self._check_idle)
            return
        self._watchdog = None
        self._fail(UpstreamTimeout(f"the server sent nothing for {self._idle_timeout:g}s"))

    # -- httptools' callbacks ------------------------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._head = Head(
            status=self._parser.get_status_code(),
            reason=self._reason.decode("latin-1"),
            headers=tuple(self._headers),
        )
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._first is None:
            self.first_byte_at = time.monotonic()
            self._first = body
            self._wake()
        elif self._client is None:
            self._pending.append(body)
        else:
            self._forward(body)

    def on_message_complete(self) -> None:
        if self._first is None:
            self.first_byte_at = time.monotonic()
            self._first = b""
        self._complete = True
        self.close()
        self._wake()

    def _forward(self, body: bytes) -> None:
        client = self._client
        assert client is not None
        if self._client_gone:
            return
        if client.is_closing():
            # Its handler is being cancelled, which closes this exchange; until then nothing more is read.
            self._client_gone = True
            self.close()
            self._wake()
            return
        client.write(b"%x\r\n%b\r\n" % (len(body), body) if self._chunked_to_client else body)
        if not self._paused and client.get_write_buffer_size() > HIGH_WATER and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
            self._wake()
