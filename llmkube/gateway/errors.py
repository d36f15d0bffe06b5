"""Every answer the gateway gives itself, in OpenAI's error shape.

`{"error": {"message", "type", "param", "code"}}` is what OpenAI's SDKs parse: they raise by status code
(NotFoundError, RateLimitError, ...) and expose `code` and `message`, so a client can tell "no such model" from
"slow down" from "waking up took too long" without reading prose. `message` always says what to do next.
Refusals that are about load carry `Retry-After` (seconds), which OpenAI's SDKs honour when they retry.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

INVALID_REQUEST = "invalid_request_error"
RATE_LIMIT = "requests"  # OpenAI's type for request-rate limits (tokens limits say "tokens")
SERVER_ERROR = "server_error"


@attrs.frozen(kw_only=True)
class GatewayError(Exception):
    """An answer the gateway makes up itself; raised inside handlers, rendered by `error_response`."""

    status: int
    message: str
    type: str
    code: str
    param: str | None = None
    retry_after: float | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers

    def encoded(self) -> bytes:
        return json.dumps(self.body()).encode()

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def bad_request(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(
        status=400, message=message, type=INVALID_REQUEST, code="invalid_request", param=param
    )


def model_not_found(model: str, *, known: list[str]) -> GatewayError:
    hint = f" Served here: {', '.join(sorted(known))}." if known else " This gateway serves no model yet."
    return GatewayError(
        status=404,
        message=f"The model `{model}` does not exist: it names no InferenceService this gateway routes to.{hint}",
        type=INVALID_REQUEST,
        code="model_not_found",
        param="model",
    )


def ambiguous_model(model: str, *, namespaces: list[str]) -> GatewayError:
    choices = ", ".join(f"`{ns}/{model}`" for ns in sorted(namespaces))
    return GatewayError(
        status=400,
        message=f"The model `{model}` exists in several namespaces; name one of {choices}.",
        type=INVALID_REQUEST,
        code="model_ambiguous",
        param="model",
    )


def queue_full(model: str, *, queue_limit: int, retry_after: float) -> GatewayError:
    return GatewayError(
        status=429,
        message=f"`{model}` is at capacity: every slot is busy and {queue_limit} request(s) already wait. "
        "Retry after the delay in Retry-After, or add replicas.",
        type=RATE_LIMIT,
        code="rate_limit_exceeded",
        retry_after=retry_after,
    )


def queue_timeout(model: str, *, waited: float, retry_after: float) -> GatewayError:
    return GatewayError(
        status=503,
        message=f"`{model}` did not free a slot within {waited:g}s; the request was not sent. Retry later, or "
        "add replicas.",
        type=SERVER_ERROR,
        code="queue_timeout",
        retry_after=retry_after,
    )


def wake_timeout(model: str, *, waited: float) -> GatewayError:
    return GatewayError(
        status=503,
        message=f"`{model}` was scaled to zero and has no ready replica {waited:g}s after it was woken; it may "
        f"still be loading. Retry shortly; `llmkube status {model}` says what it is doing.",
        type=SERVER_ERROR,
        code="wake_timeout",
        retry_after=5.0,
    )


def unavailable(model: str, reason: str) -> GatewayError:
    return GatewayError(
        status=503,
        message=f"`{model}` cannot take requests: {reason}",
        type=SERVER_ERROR,
        code="model_unavailable",
        retry_after=5.0,
    )


def upstream_failed(model: str, detail: str) -> GatewayError:
    return GatewayError(
        status=502,
        message=f"`{model}`: no replica answered ({detail}).",
        type=SERVER_ERROR,
        code="upstream_error",
    )


def starting() -> GatewayError:
    return GatewayError(
        status=503,
        message="The gateway is starting: its caches of InferenceServices and endpoints have not synced yet.",
        type=SERVER_ERROR,
        code="gateway_starting",
        retry_after=1.0,
    )


def not_found_path(path: str) -> GatewayError:
    return GatewayError(
        status=404,
        message=f"Unknown path {path}: the gateway serves /v1/chat/completions, /v1/completions, "
        "/v1/embeddings and /v1/models.",
        type=INVALID_REQUEST,
        code="unknown_url",
    )


def invalid_api_key(model: str) -> GatewayError:
    return GatewayError(
        status=401,
        message=f"`{model}` requires an API key: send the service's key (the Secret its spec.apiKeySecretRef "
        "names) as Authorization: Bearer KEY, e.g. the OpenAI client's api_key.",
        type=INVALID_REQUEST,
        code="invalid_api_key",
    )


def api_key_unavailable(model: str, reason: str) -> GatewayError:
    return GatewayError(
        status=503,
        message=f"`{model}` requires an API key the gateway cannot read: {reason}.",
        type=SERVER_ERROR,
        code="api_key_unavailable",
        retry_after=5.0,
    )


def key_refused(model: str, *, secret: str, key: str) -> GatewayError:
    return GatewayError(
        status=502,
        message=f"`{model}` refused the API key in Secret '{secret}' key '{key}': the server still runs with "
        "another key. A changed key takes effect when the service's pods restart (kubectl rollout restart "
        "of its Deployment).",
        type=SERVER_ERROR,
        code="upstream_key_refused",
    )
