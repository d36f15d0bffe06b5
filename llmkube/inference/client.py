"""Async client for the chat-completions endpoint of llama-server (and any OpenAI-compatible server).

One method, `complete`, serves both the interactive chat and the benchmark: with `stream=True` it hands each
piece of content to `on_text` as it arrives and measures the time to the first one; either way it returns the
whole answer with the server's token counts and, from llama.cpp, its own timings.

Timeouts are per read (`idle_timeout_s`), not per request: a long answer that keeps streaming is fine, a server
that goes silent is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp

from llmkube.inference.errors import EndpointUnreachable, InferenceError, RequestTimedOut, ServerError
from llmkube.inference.sse import SseDecoder
from llmkube.inference.types import ChatRequest, Completion, Timings, Usage, timings_from, usage_from

Clock = Callable[[], float]
TextSink = Callable[[str], None]

CHAT_PATH = "/v1/chat/completions"


def normalize_base_url(endpoint: str) -> str:
    """Accepts what users paste: `host:port`, a trailing slash, or the `/v1` API root."""
    url = endpoint.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url.removesuffix("/v1")


class ChatClient:
    def __init__(
        self,
        *,
        base_url: str,
        session: aiohttp.ClientSession,
        idle_timeout_s: float = 60.0,
        clock: Clock = time.perf_counter,
        api_key: str | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._session = session
        #: Sent as a bearer token, the form llama-server and OpenAI-compatible gateways both accept.
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(idle_timeout_s, 10.0), sock_read=idle_timeout_s
        )
        self._idle_timeout_s = idle_timeout_s
        self._clock = clock

    async def complete(self, request: ChatRequest, *, on_text: TextSink | None = None) -> Completion:
        try:
            return await self._attempt(request, on_text=on_text, may_retry=True)
        except _StaleConnection:
            return await self._attempt(request, on_text=on_text, may_retry=False)

    async def _attempt(
        self, request: ChatRequest, *, on_text: TextSink | None, may_retry: bool
    ) -> Completion:
        url = self.base_url + CHAT_PATH
        started = self._clock()
        answered = False
        # llama-server (b11434) hangs up after every streamed response although it advertises keep-alive. By then
        # the client has read the end of the stream and pooled the connection, and the next request would meet
        # a dead one (several, with concurrent streams, more than one retry can absorb). Asking for
        # `Connection: close` makes the server say so, and the connection is never pooled.
        headers = {**self._auth, **({"Connection": "close"} if request.stream else {})}
        try:
            async with self._session.post(
                url, json=request.body(), headers=headers, timeout=self._timeout
            ) as response:
                answered = True
                if response.status >= 400:
                    raise ServerError(
                        f"{url} answered HTTP {response.status}: {await _error_message(response)}"
                        + _auth_hint(response.status, sent_key=bool(self._auth)),
                        status=response.status,
                    )
                if not request.stream:
                    return await self._read_whole(response, started=started, on_text=on_text)
                return await self._read_stream(response, started=started, on_text=on_text)
        except aiohttp.ClientConnectorError as exc:
            raise EndpointUnreachable(f"cannot reach {self.base_url}: {_reason(exc.os_error)}") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if may_retry and not answered:
                # A pooled keep-alive connection the server closed meanwhile: the request never reached it,
                # so sending it again on a fresh connection is safe.
                raise _StaleConnection from exc
            raise InferenceError(f"request to {url} failed: {type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise RequestTimedOut(f"{url} sent nothing for {self._idle_timeout_s:g}s") from exc
        except aiohttp.InvalidURL as exc:
            raise InferenceError(f"invalid endpoint URL {self.base_url!r}") from exc
        except aiohttp.ClientError as exc:
            raise InferenceError(f"request to {url} failed: {type(exc).__name__}: {exc}") from exc

    async def _read_whole(
        self, response: aiohttp.ClientResponse, *, started: float, on_text: TextSink | None
    ) -> Completion:
        payload = _json_object(await response.text(), url=str(response.url))
        choice = _first_choice(payload)
        message = choice.get("message") if choice else None
        text = str(message.get("content") or "") if isinstance(message, Mapping) else ""
        if on_text is not None and text:
            on_text(text)
        return Completion(
            text=text,
            model=_str_or_none(payload.get("model")),
            finish_reason=_str_or_none(choice.get("finish_reason")) if choice else None,
            usage=usage_from(payload),
            timings=timings_from(payload),
            ttft_s=None,
            latency_s=self._clock() - started,
            chunks=1 if text else 0,
        )

    async def _read_stream(
        self, response: aiohttp.ClientResponse, *, started: float, on_text: TextSink | None
    ) -> Completion:
        pieces: list[str] = []
        first_token_at: float | None = None
        model: str | None = None
        finish_reason: str | None = None
        usage: Usage | None = None
        timings: Timings | None = None
        async for data in _sse_data(response):
            payload = _json_object(data, url=str(response.url))
            if isinstance(payload.get("error"), Mapping):
                raise ServerError(f"{response.url} failed mid-stream: {_message_of(payload)}", status=None)
            model = model or _str_or_none(payload.get("model"))
            usage = usage_from(payload) or usage
            timings = timings_from(payload) or timings
            choice = _first_choice(payload)
            if choice is None:
                continue  # the usage-only chunk that closes a stream with include_usage
            finish_reason = _str_or_none(choice.get("finish_reason")) or finish_reason
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, Mapping) else None
            if not content:
                continue  # role announcements and empty deltas are not tokens
            if first_token_at is None:
                first_token_at = self._clock()
            pieces.append(str(content))
            if on_text is not None:
                on_text(str(content))
        return Completion(
            text="".join(pieces),
            model=model,
            finish_reason=finish_reason,
            usage=usage,
            timings=timings,
            ttft_s=None if first_token_at is None else first_token_at - started,
            latency_s=self._clock() - started,
            chunks=len(pieces),
        )


class _StaleConnection(Exception):
    pass


def _reason(error: OSError) -> str:
    """asyncio's refusals carry an errno but a generic text ("Connect call failed"); the errno says more."""
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()
    return (
        error.strerror or str(error)
    ).lower()  # resolver failures (negative EAI_* codes) explain themselves


async def _sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    decoder = SseDecoder()
    async for chunk in response.content.iter_any():
        for event in decoder.feed(chunk):
            if event.is_done:
                return
            yield event.data
    for event in decoder.close():
        if event.is_done:
            return
        yield event.data


def _auth_hint(status: int, *, sent_key: bool) -> str:
    if status != 401:
        return ""
    if sent_key:
        return "; the API key was refused: check it against the service's apiKeySecretRef Secret"
    return "; the service requires an API key: pass --api-key or set LLMKUBE_API_KEY"


async def _error_message(response: aiohttp.ClientResponse) -> str:
    text = ""
    with contextlib.suppress(aiohttp.ClientError, UnicodeDecodeError):
        text = await response.text()
    with contextlib.suppress(ValueError):
        payload = json.loads(text)
        if isinstance(payload, Mapping):
            return _message_of(payload)
    return text.strip()[:300] or (response.reason or "no message")


def _message_of(payload: Mapping[str, Any]) -> str:
    """OpenAI and llama.cpp put it at `error.message`; other servers use `error` as a string or `message`."""
    error = payload.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return str(payload.get("message") or payload.get("detail") or json.dumps(payload)[:300])


def _json_object(text: str, *, url: str) -> Mapping[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InferenceError(f"{url} sent something that is not JSON: {text[:200]!r}") from exc
    if not isinstance(payload, Mapping):
        raise InferenceError(f"{url} sent JSON that is not an object: {text[:200]!r}")
    return payload


def _first_choice(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value is not None else None


@contextlib.asynccontextmanager
async def open_chat_client(
    endpoint: str,
    *,
    idle_timeout_s: float = 60.0,
    clock: Clock = time.perf_counter,
    api_key: str | None = None,
) -> AsyncIterator[ChatClient]:
    """A client with its own connection pool, closed on exit; the pool has room for any benchmark concurrency."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield ChatClient(
            base_url=endpoint, session=session, idle_timeout_s=idle_timeout_s, clock=clock, api_key=api_key
        )
