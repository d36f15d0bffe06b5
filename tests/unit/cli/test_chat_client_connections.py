"""Connection reuse against a server that, like llama-server, hangs up while advertising keep-alive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from llmkube.inference import ChatMessage, ChatRequest, open_chat_client

QUESTION = ChatMessage(role="user", content="hi")


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """Reads one request; returns its head (request line and headers)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    return head


def streamed_answer() -> bytes:
    event = b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nKeep-Alive: timeout=5, max=100\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(event):x}\r\n".encode() + event + b"\r\n0\r\n\r\n"
    )


def whole_answer() -> bytes:
    body = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5, max=100\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@contextlib.asynccontextmanager
async def hanging_up_server(answer: bytes) -> AsyncIterator[tuple[str, list[int]]]:
    """Answers one request per connection, then closes it; yields its URL and the connection count."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", connections


async def test_streamed_requests_never_reuse_a_connection_the_server_dropped() -> None:
    async with hanging_up_server(streamed_answer()) as (url, connections), open_chat_client(url) as client:
        for _ in range(3):
            completion = await client.complete(ChatRequest(messages=(QUESTION,)))
            assert completion.text == "ok"
    assert len(connections) == 3


@contextlib.asynccontextmanager
async def doomed_keep_alive_server() -> AsyncIterator[str]:
    """Streams one answer per connection like llama-server: it honours `Connection: close` in the request, and
    otherwise advertises keep-alive but drops the connection, unanswered, when a next request arrives on it. (The
    real server hangs up at once; a client that pooled the connection before noticing meets the same end.)"""
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            head = await read_request(reader)
            if b"connection: close" in head.lower():
                writer.write(
                    streamed_answer().replace(b"Keep-Alive: timeout=5, max=100", b"Connection: close")
                )
                await writer.drain()
            else:
                writer.write(streamed_answer())
                await writer.drain()
                await reader.read(1)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield f"http://127.0.0.1:{port}"
    finally:
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def test_concurrent_streams_leave_no_connection_behind_for_the_next_request() -> None:
    # Two streams at once would pool two doomed connections; the next request would meet one, and its single
    # retry the other.
    async with doomed_keep_alive_server() as url, open_chat_client(url) as client:
        answers = await asyncio.gather(
            *(client.complete(ChatRequest(messages=(QUESTION,))) for _ in range(2))
        )
        assert [a.text for a in answers] == ["ok", "ok"]
        assert (await client.complete(ChatRequest(messages=(QUESTION,)))).text == "ok"


async def test_request_on_a_stale_pooled_connection_is_sent_again() -> None:
    async with hanging_up_server(whole_answer()) as (url, connections), open_chat_client(url) as client:
        for _ in range(3):
            completion = await client.complete(ChatRequest(messages=(QUESTION,), stream=False))
            assert completion.text == "ok"
    assert len(connections) == 3
