"""A stand-in for llama-server's streaming that answers the first token at once: `hack.bench.gateway --upstream
stepped` measures against it.

Why a stand-in next to the real server: llama-server hands out first tokens only at the end of a decoding step
(about 90 ms at 16 streams on 2 cores), so whatever the gateway adds before the request reaches the server
disappears into the wait for the step, unless it makes the request miss one (then it costs a whole step). That
is what a user sees, and the real-server runs measure it; but it hides the gateway's whole delay. This server
sends each answer's head and first token the moment the request has arrived, and every later token on a common
clock, one per stream per `--step`, so the other streams' chunks come in bursts exactly as llama-server's do: a
client's time to the first byte is then the network, the server's parsing, and whatever the gateway adds, all
of it.

Answers are OpenAI chat completion chunks (`max_tokens` of them, then the usage and `[DONE]`), chunked, and the
connection closes after each, as llama-server's streamed answers do. Not a server for anything else.

    python -m hack.bench.stepped_server --port 8080 [--step 0.09]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import cast

import httptools

from llmkube.gateway.event_loop import uvloop_installed

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: close\r\n\r\n"
)
TOKEN = b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" word"}}]}\n\n'
FIRST = (
    b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":"Once"}}]}\n\n'
)


def framed(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class Answer(asyncio.Protocol):
    """One connection: one request, one streamed answer."""

    def __init__(self, streams: set[Answer]) -> None:
        self._streams = streams
        self._parser = httptools.HttpRequestParser(self)
        self._body = b""
        self._transport: asyncio.Transport | None = None
        self._left = 0
        self._tokens = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._streams.discard(self)

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        assert self._transport is not None
        try:
            self._left = int(json.loads(self._body).get("max_tokens") or 16)
        except (ValueError, AttributeError):
            self._left = 16
        self._tokens = self._left
        self._transport.write(HEAD + framed(FIRST))
        self._left -= 1
        self._streams.add(self)

    def step(self) -> None:
        """One decoding step: this stream's next token, or its end."""
        assert self._transport is not None
        if self._left > 0:
            self._left -= 1
            self._transport.write(framed(TOKEN))
            return
        usage = {
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {"completion_tokens": self._tokens},
        }
        self._transport.write(
            framed(b"data: " + json.dumps(usage).encode() + b"\n\n")
            + framed(b"data: [DONE]\n\n")
            + b"0\r\n\r\n"
        )
        self._transport.close()
        self._streams.discard(self)


async def serve(port: int, step: float) -> None:
    loop = asyncio.get_running_loop()
    streams: set[Answer] = set()
    server = await loop.create_server(lambda: Answer(streams), "127.0.0.1", port)
    async with server:
        tick = time.monotonic()
        while True:
            tick += step
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            for stream in list(streams):
                stream.step()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--step", type=float, default=0.09, help="seconds per decoding step")
    args = parser.parse_args()
    if uvloop_installed():
        import uvloop

        uvloop.run(serve(args.port, args.step))
    else:
        asyncio.run(serve(args.port, args.step))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
