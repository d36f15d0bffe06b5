"""The load generator of `hack.bench.gateway`: streamed chat requests timed at the client, in two arrival patterns.

One request yields a `Sample`: the client's time to the answer's first byte and to its first content token,
the completion tokens, and, through the gateway, the `Server-Timing` it answered with. From those the gateway's
own share of a request's first byte is computed per request (first byte - queue - upstream): paired within the
request, so it does not move with which of many simultaneous prompts llama-server puts in its next batch,
which swings the direct-versus-gateway comparison by tens of milliseconds from one round to the next.

Arrival patterns at N streams:

- burst: every stream sends at the same instant, `requests` times one after another; all prompts and lengths
  are equal, so the streams stay in step. The worst case for a proxy on one event loop (N requests to take at
  once) and for a batching server.
- steady: N streams kept busy for a fixed time, each sending its next request when its last one ends, their
  starts spread evenly over one request's duration. N requests are always in flight and arrive one by one, as
  N concurrent users' requests do.
- twins: steady, but every request is sent twice at the same instant, once directly and once through the
  gateway (which goes first alternates), and the pair is compared. Both join the server's work at the same
  moment, so they usually come out of the same decoding step and the difference is what the gateway added to
  that request; when the gateway's delay makes its twin miss a step, that shows too, as it would for a user.
  The server serves 2N streams, N of them through the gateway.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import anyio
import attrs

from llmkube.gateway.timing import TIMING_HEADER, parse_server_timing
from llmkube.inference.sse import SseDecoder

CHAT_PATH = "/v1/chat/completions"


@attrs.frozen(kw_only=True)
class Sample:
    first_byte_s: float
    first_token_s: float | None
    duration_s: float
    tokens: int
    #: Milliseconds by Server-Timing metric; empty when the answer came straight from llama-server.
    server_timing: Mapping[str, float]

    @property
    def gateway_own_ms(self) -> float | None:
        """The gateway's share of the first byte: what neither its queue nor the server accounts for."""
        if "upstream" not in self.server_timing:
            return None
        waited = self.server_timing["upstream"] + self.server_timing.get("queue", 0.0)
        return self.first_byte_s * 1000 - waited


@attrs.frozen(kw_only=True)
class Side:
    samples: tuple[Sample, ...]
    errors: int
    wall_s: float
    streams: int

    @property
    def ttft_p50_ms(self) -> float:
        ttfts = [s.first_token_s for s in self.samples if s.first_token_s is not None]
        return statistics.median(ttfts) * 1000 if ttfts else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return sum(s.tokens for s in self.samples) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def busy_tokens_per_s(self) -> float:
        """Throughput with every stream busy: each request's tokens over its own time (sent to last byte, so
        whatever delays its start or its end counts), times the streams. The wall-clock figure also counts the
        tail after the phase, whose length depends on when each stream's last request happened to start."""
        busy = sum(s.duration_s for s in self.samples)
        return sum(s.tokens for s in self.samples) / busy * self.streams if busy > 0 else 0.0


def chat_body(*, model: str, prompt: str, max_tokens: int) -> bytes:
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()


async def stream_once(session: aiohttp.ClientSession, url: str, body: bytes) -> Sample:
    headers = {"Content-Type": "application/json", "Connection": "close"}
    started = time.monotonic()
    first_byte: float | None = None
    first_token: float | None = None
    tokens = 0
    pieces = 0
    async with session.post(url + CHAT_PATH, data=body, headers=headers) as response:
        response.raise_for_status()
        timing = parse_server_timing(response.headers.get(TIMING_HEADER, ""))
        decoder = SseDecoder()
        async for chunk in response.content.iter_any():
            if first_byte is None:
                first_byte = time.monotonic()
            if first_token is not None and b"completion_tokens" not in chunk:
                # Past the first token only the closing usage matters: counting without parsing keeps the
                # client's own loop, which shares the machine, from adding to the times it measures.
                pieces += chunk.count(b'"content":"')
                decoder.feed(chunk)
                continue
            for event in decoder.feed(chunk):
                if event.is_done:
                    continue
                payload: dict[str, Any] = json.loads(event.data)
                usage = payload.get("usage")
                if isinstance(usage, dict) and "completion_tokens" in usage:
                    tokens = int(usage["completion_tokens"])
                choices = payload.get("choices") or []
                if choices and (choices[0].get("delta") or {}).get("content"):
                    pieces += 1
                    if first_token is None:
                        first_token = time.monotonic()
    ended = time.monotonic()
    return Sample(
        first_byte_s=(first_byte or ended) - started,
        first_token_s=None if first_token is None else first_token - started,
        duration_s=ended - started,
        tokens=tokens or pieces,
        server_timing=timing,
    )


async def burst(url: str, body: bytes, *, streams: int, requests: int) -> Side:
    samples: list[Sample] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one_stream() -> None:
            nonlocal errors
            for _ in range(requests):
                try:
                    samples.append(await stream_once(session, url, body))
                except (aiohttp.ClientError, ValueError):
                    errors += 1

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(streams):
                tg.start_soon(one_stream)
        wall = time.monotonic() - started
    return Side(samples=tuple(samples), errors=errors, wall_s=wall, streams=streams)


async def steady(
    url: str,
    body: bytes,
    *,
    streams: int,
    seconds: float,
    request_s: float,
    think_s: float = 0.0,
    seed: int = 0,
) -> Side:
    """`streams` streams busy for `seconds`, started `request_s / streams` apart; no request starts after
    `seconds`, and the side's time runs until the last one ends (the same ramps at both ends for both sides).

    With `think_s`, a stream waits a random 0..think_s before each request, as a user reads an answer before
    asking again; the waits are drawn from `seed` and the stream's index, so both sides of a round wait the
    same. Without it every next request arrives the instant an answer ends, which is when llama-server
    finishes a decoding step: arrivals then line up with its steps, and streams fall into step with each
    other in patterns that differ from one phase to the next."""
    samples: list[Sample] = []
    errors = 0
    stagger = request_s / streams
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.monotonic()
        deadline = started + seconds

        async def one_stream(index: int) -> None:
            nonlocal errors
            thinking = random.Random(seed * 1000 + index)
            await anyio.sleep(index * stagger)
            while time.monotonic() < deadline:
                if think_s:
                    await anyio.sleep(thinking.uniform(0.0, think_s))
                try:
                    samples.append(await stream_once(session, url, body))
                except (aiohttp.ClientError, ValueError):
                    errors += 1

        async with anyio.create_task_group() as tg:
            for index in range(streams):
                tg.start_soon(one_stream, index)
        wall = time.monotonic() - started
    return Side(samples=tuple(samples), errors=errors, wall_s=wall, streams=streams)


@attrs.frozen(kw_only=True)
class Twin:
    """One request answered directly and through the gateway, sent at the same instant."""

    direct: Sample
    gateway: Sample

    @property
    def added_first_byte_ms(self) -> float:
        return (self.gateway.first_byte_s - self.direct.first_byte_s) * 1000

    @property
    def added_first_token_ms(self) -> float | None:
        if self.gateway.first_token_s is None or self.direct.first_token_s is None:
            return None
        return (self.gateway.first_token_s - self.direct.first_token_s) * 1000


@attrs.frozen(kw_only=True)
class TwinRun:
    twins: tuple[Twin, ...]
    errors: int


async def twins(
    direct_url: str, gateway_url: str, body: bytes, *, streams: int, seconds: float, request_s: float
) -> TwinRun:
    """`streams` streams of twin requests for `seconds`, started `request_s / streams` apart; a stream sends
    its next pair once both of its last pair's answers have ended."""
    pairs: list[Twin] = []
    errors = 0
    stagger = request_s / streams
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        deadline = time.monotonic() + seconds

        async def ask(answers: dict[str, Sample], name: str, url: str) -> None:
            nonlocal errors
            try:
                answers[name] = await stream_once(session, url, body)
            except (aiohttp.ClientError, ValueError):
                errors += 1

        async def one_stream(index: int) -> None:
            await anyio.sleep(index * stagger)
            sent = index
            while time.monotonic() < deadline:
                order = [("direct", direct_url), ("gateway", gateway_url)]
                if sent % 2:
                    order.reverse()
                sent += 1
                answers: dict[str, Sample] = {}
                async with anyio.create_task_group() as tg:
                    for name, url in order:
                        tg.start_soon(ask, answers, name, url)
                if len(answers) == 2:
                    pairs.append(Twin(direct=answers["direct"], gateway=answers["gateway"]))

        async with anyio.create_task_group() as tg:
            for index in range(streams):
                tg.start_soon(one_stream, index)
    return TwinRun(twins=tuple(pairs), errors=errors)
