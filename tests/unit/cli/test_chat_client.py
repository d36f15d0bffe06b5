"""ChatClient against a scripted loopback server: streaming, whole answers and the ways requests fail."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from aiohttp import web

from llmkube.inference import (
    ChatMessage,
    ChatRequest,
    EndpointUnreachable,
    ServerError,
    normalize_base_url,
    open_chat_client,
)

from .conftest import Serve

QUESTION = ChatRequest(messages=(ChatMessage(role="user", content="hi"),), max_tokens=8)
TIMINGS = {
    "prompt_n": 5,
    "prompt_ms": 10.0,
    "prompt_per_second": 500.0,
    "predicted_n": 2,
    "predicted_ms": 40.0,
    "predicted_per_second": 50.0,
}


def chunk(**fields: Any) -> bytes:
    return f"data: {json.dumps(fields)}\n\n".encode()


def delta(content: str | None, **extra: Any) -> bytes:
    return chunk(
        model="m", choices=[{"index": 0, "delta": {"content": content}, "finish_reason": None}], **extra
    )


class FakeClock:
    """Advances one second each time it is read, so every measured interval counts readings."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def stream_of(request: web.Request, parts: list[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for part in parts:
        await response.write(part)
    await response.write_eof()
    return response


async def test_streamed_answer_arrives_piece_by_piece_with_usage_and_timings(serve: Serve) -> None:
    body = (
        delta(None)  # role announcement: not a token
        + b": keep-alive\n\n"
        + delta("Hel")
        + delta("lo")
        + chunk(model="m", choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        + chunk(model="m", choices=[], usage={"prompt_tokens": 5, "completion_tokens": 2}, timings=TIMINGS)
        + b"data: [DONE]\n\n"
    )
    # Split mid-event to make the client reassemble what the network cut.
    parts = [body[:37], body[37:120], body[120:]]
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        assert (await request.json())["stream_options"] == {"include_usage": True}
        return await stream_of(request, parts)

    async with serve(handler) as url, open_chat_client(url) as client:
        completion = await client.complete(QUESTION, on_text=seen.append)
    assert seen == ["Hel", "lo"]
    assert (completion.text, completion.finish_reason, completion.model) == ("Hello", "stop", "m")
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2
    assert completion.timings is not None
    assert completion.timings.predicted_per_second == 50.0


async def test_time_to_first_token_counts_from_the_request_to_the_first_content(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream_of(request, [delta(None), delta("a"), delta("b"), b"data: [DONE]\n\n"])

    clock = FakeClock()
    async with serve(handler) as url, open_chat_client(url, clock=clock) as client:
        completion = await client.complete(QUESTION)
    # Readings: 1 = sent, 2 = first content ("a"), 3 = end of stream.
    assert (completion.ttft_s, completion.latency_s) == (1.0, 2.0)


async def test_whole_answer_when_not_streaming(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        assert "stream" not in await request.json()
        return web.json_response(
            {
                "model": "m",
                "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2},
            }
        )

    async with serve(handler) as url, open_chat_client(url) as client:
        completion = await client.complete(
            ChatRequest(messages=QUESTION.messages, stream=False), on_text=lambda _: None
        )
    assert (completion.text, completion.completion_tokens, completion.ttft_s) == ("Hi!", 2, None)


async def test_http_error_carries_the_servers_message(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        error = {"error": {"code": 400, "message": "context size exceeded", "type": "invalid_request_error"}}
        return web.json_response(error, status=400)

    async with serve(handler) as url, open_chat_client(url) as client:
        with pytest.raises(ServerError, match="HTTP 400: context size exceeded") as caught:
            await client.complete(QUESTION)
    assert caught.value.status == 400


async def test_plain_text_error_body_is_shown(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text="Loading model")

    async with serve(handler) as url, open_chat_client(url) as client:
        with pytest.raises(ServerError, match="HTTP 503: Loading model"):
            await client.complete(QUESTION)


async def test_error_event_inside_a_stream_fails_the_request(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await stream_of(request, [delta("a"), chunk(error={"message": "slot crashed"})])

    async with serve(handler) as url, open_chat_client(url) as client:
        with pytest.raises(ServerError, match="slot crashed"):
            await client.complete(QUESTION)


async def test_closed_port_is_reported_as_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        async with open_chat_client(f"127.0.0.1:{port}") as client:
            with pytest.raises(
                EndpointUnreachable, match=rf"cannot reach http://127.0.0.1:{port}: connection refused"
            ):
                await client.complete(QUESTION)


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("localhost:8080", "http://localhost:8080"),
        ("http://svc:8080/", "http://svc:8080"),
        ("https://host/v1", "https://host"),
        ("https://host/v1/", "https://host"),
    ],
)
def test_endpoint_urls_are_normalized_to_the_server_root(given: str, base: str) -> None:
    assert normalize_base_url(given) == base


async def unauthorized(request: web.Request) -> web.Response:
    # llama-server's answer to a missing or wrong key.
    error = {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}
    return web.json_response(error, status=401)


async def test_an_api_key_is_sent_as_a_bearer_token(serve: Serve) -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"model": "m", "choices": [{"message": {"content": "ok"}}]})

    async with serve(handler) as url, open_chat_client(url, api_key="s3cret") as client:
        await client.complete(ChatRequest(messages=QUESTION.messages, stream=False))
    assert seen == ["Bearer s3cret"]


async def test_a_401_without_a_key_says_how_to_pass_one(serve: Serve) -> None:
    async with serve(unauthorized) as url, open_chat_client(url) as client:
        with pytest.raises(ServerError, match="requires an API key: pass --api-key or set LLMKUBE_API_KEY"):
            await client.complete(QUESTION)


async def test_a_401_with_a_key_says_the_key_was_refused(serve: Serve) -> None:
    async with serve(unauthorized) as url, open_chat_client(url, api_key="wrong") as client:
        with pytest.raises(ServerError, match="API key was refused") as caught:
            await client.complete(QUESTION)
    assert "wrong" not in str(caught.value)
