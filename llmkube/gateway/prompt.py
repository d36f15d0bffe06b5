"""What the gateway reads from an OpenAI request body: the model it names, whether it streams, and a prefix key.

The prefix key is a hash of the first `prefix_chars` characters of the prompt as the server will see it (chat
messages with their roles, a completion prompt, an embedding input). Requests that share it (the same system
prompt, the same conversation so far) are best served by the same llama-server: its slots keep the processed
prompt, and a request that starts the same way skips re-evaluating it. Only the beginning is hashed, so every
turn of one conversation maps to the same key. The key only matters where there is a replica to choose, so the
proxy parses with `prefix_chars=0` and computes it (`sticky_key`) only then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

DEFAULT_PREFIX_CHARS = 512


class BadRequest(ValueError):
    """The body is not an OpenAI request the gateway can route; the message says what is wrong."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@attrs.frozen(kw_only=True)
class RoutedRequest:
    model: str
    stream: bool
    #: None when the request carries no prompt text to key on (or it was not computed: prefix_chars=0).
    prefix_key: int | None
    #: The parsed body, for computing the key later.
    body: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


def parse_request(body: Any, *, prefix_chars: int = DEFAULT_PREFIX_CHARS) -> RoutedRequest:
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(
            "the request names no model: set `model` to the name of an InferenceService (see GET /v1/models)",
            param="model",
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("`stream` must be true or false", param="stream")
    text = prompt_prefix(body, limit=prefix_chars)
    return RoutedRequest(model=model, stream=stream, prefix_key=prefix_key(text) if text else None, body=body)


def sticky_key(routed: RoutedRequest, *, prefix_chars: int) -> int | None:
    """The request's prefix key, computed from its body when parsing left it out."""
    if routed.prefix_key is not None:
        return routed.prefix_key
    text = prompt_prefix(routed.body, limit=prefix_chars)
    return prefix_key(text) if text else None


def prompt_prefix(body: Mapping[str, Any], *, limit: int) -> str:
    """The first `limit` characters of the prompt, in the order the server sees them."""
    if limit <= 0:
        return ""
    pieces: list[str] = []
    size = 0
    for piece in _prompt_pieces(body):
        pieces.append(piece)
        size += len(piece)
        if size >= limit:
            break
    return "".join(pieces)[:limit]


def prefix_key(text: str) -> int:
    """A stable 64-bit key (the same in every gateway replica and across restarts, unlike `hash()`)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).digest(), "big")


def _prompt_pieces(body: Mapping[str, Any]) -> Iterator[str]:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            yield f"{message.get('role', '')}\n"
            yield from _text_of(message.get("content"))
            yield "\n"
        return
    for field in ("prompt", "input"):
        if field in body:
            yield from _text_of(body[field])
            return


def _text_of(content: Any) -> Iterator[str]:
    """Text of a string, of a list of strings or content parts, or of token ids (as their decimal form)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, int):
        yield f"{content},"
    elif isinstance(content, list):
        for item in content:
            if isinstance(item, Mapping):
                text = item.get("text")
                if isinstance(text, str):
                    yield text
            else:
                yield from _text_of(item)
