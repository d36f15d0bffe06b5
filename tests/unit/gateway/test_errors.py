from __future__ import annotations

import json

import pytest

from llmkube.gateway import errors
from llmkube.gateway.errors import GatewayError

EVERY_ERROR = [
    errors.bad_request("bad", param="model"),
    errors.model_not_found("nope", known=["chat"]),
    errors.ambiguous_model("chat", namespaces=["a", "b"]),
    errors.queue_full("chat", queue_limit=4, retry_after=2.5),
    errors.queue_timeout("chat", waited=60, retry_after=1),
    errors.wake_timeout("chat", waited=600),
    errors.unavailable("chat", "it is Failed"),
    errors.upstream_failed("chat", "refused"),
    errors.starting(),
    errors.not_found_path("/v2/x"),
]


@pytest.mark.parametrize("error", EVERY_ERROR, ids=lambda e: e.code)
def test_every_error_has_openais_shape(error: GatewayError) -> None:
    body = json.loads(error.encoded())
    assert list(body) == ["error"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert all(body["error"][field] for field in ("message", "type", "code"))


def test_an_unknown_model_is_a_404_naming_the_model_and_what_is_served() -> None:
    error = errors.model_not_found("llama-9000", known=["chat", "code"])
    assert error.status == 404
    assert error.body()["error"]["code"] == "model_not_found"
    assert error.body()["error"]["param"] == "model"
    assert "llama-9000" in error.message
    assert "chat, code" in error.message


def test_a_full_queue_is_a_429_with_retry_after_in_whole_seconds() -> None:
    error = errors.queue_full("chat", queue_limit=4, retry_after=2.5)
    assert error.status == 429
    assert error.headers()["Retry-After"] == "3"
    assert error.body()["error"]["code"] == "rate_limit_exceeded"


def test_a_queue_timeout_is_a_503_with_retry_after() -> None:
    error = errors.queue_timeout("chat", waited=60, retry_after=0.2)
    assert error.status == 503
    assert error.headers()["Retry-After"] == "1"


def test_a_wake_timeout_says_the_service_may_still_be_loading() -> None:
    error = errors.wake_timeout("chat", waited=600)
    assert (error.status, error.code) == (503, "wake_timeout")
    assert "still be loading" in error.message
