"""Requests and results of chat completions, in the shapes the rest of llmkube works with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

Role = Literal["system", "user", "assistant"]


@attrs.frozen(kw_only=True)
class ChatMessage:
    role: Role
    content: str


@attrs.frozen(kw_only=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    #: The served model's name; a gateway routes by it (a single llama-server ignores it).
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True
    # Server-specific fields merged into the body as is (llama.cpp's `cache_prompt`, for one).
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in self.messages]}
        if self.model is not None:
            body["model"] = self.model
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.stream:
            body["stream"] = True
            # Without it OpenAI-style servers send no token counts in a stream.
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra)
        return body


@attrs.frozen(kw_only=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@attrs.frozen(kw_only=True)
class Timings:
    """llama.cpp's own measurements of one request, more exact than anything seen over the network."""

    prompt_tokens: int
    prompt_ms: float
    prompt_per_second: float
    predicted_tokens: int
    predicted_ms: float
    predicted_per_second: float


@attrs.frozen(kw_only=True)
class Completion:
    text: str
    model: str | None
    finish_reason: str | None
    usage: Usage | None
    timings: Timings | None
    # Seconds from sending the request to the first non-empty piece of content (streaming only).
    ttft_s: float | None
    latency_s: float
    # Content pieces received; a stand-in for the token count when the server reports no usage.
    chunks: int

    @property
    def completion_tokens(self) -> int:
        if self.usage is not None:
            return self.usage.completion_tokens
        if self.timings is not None:
            return self.timings.predicted_tokens
        return self.chunks

    @property
    def prompt_tokens(self) -> int | None:
        if self.usage is not None:
            return self.usage.prompt_tokens
        return self.timings.prompt_tokens if self.timings is not None else None


def usage_from(payload: Mapping[str, Any]) -> Usage | None:
    usage = payload.get("usage")
    if not isinstance(usage, Mapping):
        return None
    try:
        return Usage(
            prompt_tokens=int(usage["prompt_tokens"]), completion_tokens=int(usage["completion_tokens"])
        )
    except (KeyError, TypeError, ValueError):
        return None


def timings_from(payload: Mapping[str, Any]) -> Timings | None:
    timings = payload.get("timings")
    if not isinstance(timings, Mapping):
        return None
    try:
        return Timings(
            prompt_tokens=int(timings["prompt_n"]),
            prompt_ms=float(timings["prompt_ms"]),
            prompt_per_second=float(timings["prompt_per_second"]),
            predicted_tokens=int(timings["predicted_n"]),
            predicted_ms=float(timings["predicted_ms"]),
            predicted_per_second=float(timings["predicted_per_second"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
