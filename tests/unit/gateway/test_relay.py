"""Streams relayed socket to socket (`relay`), through the proxy, against servers on loopback that write exactly
the bytes each test needs: split anywhere, cut off, silent, not HTTP, or faster than the client reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import anyio
import attrs
import pytest

from llmkube.gateway import relay
from llmkube.gateway.options import GatewayOptions
from llmkube.gateway.routes import Route, Upstream
from tests.unit.gateway.conftest import route
from tests.unit.gateway.test_proxy import OPTIONS, running_gateway

STREAM = {"model": "chat", "stream": True, "messages": []}
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def events(n: int) -> list[bytes]:
    return [b"data: " + json.dumps({"n": i}).encode() + b"\n\n" for i in range(n)]


@attrs.define
class RawServer:
    """One scripted answer per connection: `script(reader, writer)` after the request has arrived."""

    port: int = 0
    requests: list[bytes] = attrs.Factory(list)
    #: Body pieces written so far (the slow-client test's server).
    written: int = 0


@contextlib.asynccontextmanager
async def raw_server(script: Callable[[asyncio.StreamWriter, RawServer], object]) -> AsyncIterator[RawServer]:
    state = RawServer()

    handlers: set[asyncio.Task[object]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.partition(b":")[2])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            state.requests.append(head + await reader.readexactly(length))
            result = script(writer, state)
            if asyncio.iscoroutine(result):
                await result
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


def served_by_raw(server: RawServer) -> Route:
    return attrs.evolve(route(ready=0), ready=(Upstream(host="127.0.0.1", port=server.port),), replicas=1)


@contextlib.asynccontextmanager
async def streamed(
    script: Callable[[asyncio.StreamWriter, RawServer], object], *, options: GatewayOptions = OPTIONS
) -> AsyncIterator[tuple[RawServer, aiohttp.ClientResponse]]:
    """A streamed request through the gateway to a server answering with `script`."""
    async with (
        raw_server(script) as server,
        running_gateway(served_by_raw(server), options=options) as gateway,
        aiohttp.ClientSession(read_bufsize=2**16) as session,
        session.post(gateway.url + "/v1/chat/completions", json=STREAM) as response,
    ):
        yield server, response


async def test_a_stream_split_at_every_byte_reaches_the_client_whole() -> None:
    """Chunk sizes, chunk ends and events all straddle reads: the parser, not the read boundaries, frames."""
    sent = events(5)

    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        for byte in HEAD + b"".join(chunk(e) for e in sent) + b"0\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()

    async with streamed(script) as (server, response):
        body = await response.read()
        assert response.headers["Content-Type"] == "text/event-stream"

    assert body == b"".join(sent)
    assert b"Connection: close" in server.requests[0]
    assert b'"stream": true' in server.requests[0]


async def test_an_answer_without_length_or_chunks_ends_when_the_server_closes() -> None:
    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        writer.write(b"".join(events(3)))
        await writer.drain()

    async with streamed(script) as (_server, response):
        body = await response.read()

    assert body == b"".join(events(3))


async def test_a_server_that_breaks_off_mid_stream_cuts_the_clients_connection() -> None:
    """A clean end would pass a truncated answer off as whole; the client must see it incomplete."""

    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        writer.write(HEAD + chunk(events(1)[0]) + chunk(b'data: {"n'))
        await writer.drain()

    async with streamed(script) as (_server, response):
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_a_server_silent_past_the_idle_timeout_is_a_502_naming_it() -> None:
    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        await asyncio.sleep(30)

    options = attrs.evolve(OPTIONS, upstream_idle_timeout=0.3)
    async with (
        raw_server(script) as server,
        running_gateway(served_by_raw(server), options=options) as gateway,
        aiohttp.ClientSession() as session,
    ):
        with anyio.fail_after(5):
            async with session.post(gateway.url + "/v1/chat/completions", json=STREAM) as response:
                error = (await response.json())["error"]

    assert response.status == 502
    assert "sent no answer within 0.3s" in error["message"]


async def test_a_server_silent_mid_stream_past_the_idle_timeout_cuts_the_client() -> None:
    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        writer.write(HEAD + chunk(events(1)[0]))
        await writer.drain()
        await asyncio.sleep(30)

    options = attrs.evolve(OPTIONS, upstream_idle_timeout=0.3)
    async with streamed(script, options=options) as (_server, response):
        assert await response.content.readuntil(b"\n\n") == events(1)[0]
        with anyio.fail_after(5), pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_an_answer_that_is_not_http_is_a_502() -> None:
    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async with streamed(script) as (_server, response):
        error = (await response.json())["error"]

    assert response.status == 502
    assert "not valid HTTP" in error["message"]


async def test_a_stream_to_a_replica_that_refuses_connections_goes_to_the_next() -> None:
    async def script(writer: asyncio.StreamWriter, _: RawServer) -> None:
        writer.write(HEAD + chunk(events(1)[0]) + b"0\r\n\r\n")
        await writer.drain()

    async with raw_server(script) as server:
        dead = Upstream(host="127.0.0.1", port=1)  # nothing listens on port 1
        alive = Upstream(host="127.0.0.1", port=server.port)
        both = attrs.evolve(route(ready=0, slots=4), ready=(dead, alive), replicas=2)
        async with running_gateway(both) as gateway, aiohttp.ClientSession() as session:
            bodies = []
            for _ in range(3):
                async with session.post(gateway.url + "/v1/chat/completions", json=STREAM) as response:
                    bodies.append(await response.read())

    assert bodies == [events(1)[0]] * 3


async def test_a_client_that_reads_slowly_pauses_reading_from_the_server() -> None:
    """The server writes 64 MiB as fast as it can; while the client reads nothing, the gateway must stop
    reading too (so the server's writes back up) instead of holding the answer in memory. Loopback's socket
    buffers take some MiB at each hop, so the answer is larger than all of them together."""
    piece = b"data: " + b"x" * 65_000 + b"\n\n"
    pieces = 1024

    async def script(writer: asyncio.StreamWriter, state: RawServer) -> None:
        writer.write(HEAD)
        for _ in range(pieces):
            writer.write(chunk(piece))
            await writer.drain()
            state.written += 1
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with streamed(script) as (server, response):
        assert await response.content.readexactly(len(piece)) == piece
        await anyio.sleep(1)
        written_while_stalled = server.written
        received = len(piece)
        async for data in response.content.iter_any():
            received += len(data)

    assert written_while_stalled < pieces / 2
    assert received == len(piece) * pieces


def test_a_header_value_that_would_split_the_request_is_left_out() -> None:
    message = relay.encode_request(
        path="/v1/chat/completions",
        authority="10.0.0.1:8080",
        headers={"User-Agent": "x\r\nX-Injected: 1", "Content-Type": "application/json"},
        body=b"{}",
    )

    head, _, body = message.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /v1/chat/completions HTTP/1.1",
        b"Host: 10.0.0.1:8080",
        b"Content-Type: application/json",
        b"Content-Length: 2",
    ]
    assert body == b"{}"


def test_an_ipv6_replica_is_addressed_in_brackets() -> None:
    assert Upstream(host="fd00::1", port=8080).authority == "[fd00::1]:8080"
