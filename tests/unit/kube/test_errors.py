"""Status codes and Status bodies become typed errors that keep the server's message."""

from __future__ import annotations

import json

import pytest

from controller.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
    error_from_status,
    is_schema_rejection,
)


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    ).encode()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (410, Gone),
        (422, Invalid),
        (429, TooManyRequests),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_maps_status_code_to_error_class(code: int, expected: type[KubeError]) -> None:
    assert type(error_from_status(code, b"")) is expected


def test_already_exists_is_a_conflict() -> None:
    error = error_from_status(409, status_body(409, "AlreadyExists", 'configmaps "a" already exists'))
    assert isinstance(error, AlreadyExists)
    assert isinstance(error, Conflict)


def test_invalid_keeps_the_server_message_naming_the_field() -> None:
    message = 'Model.inference.llmkube.dev "m" is invalid: spec.gpuCount: Invalid value: 9: must be <= 8'
    error = error_from_status(422, status_body(422, "Invalid", message), context="PATCH models ns/m")
    assert "spec.gpuCount" in str(error)
    assert str(error).startswith("PATCH models ns/m")


def test_expired_reason_is_gone_even_inside_a_200_stream() -> None:
    error = error_from_status(200, {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    assert isinstance(error, Gone)


def test_too_many_requests_carries_retry_after_header() -> None:
    error = error_from_status(429, b"", retry_after="3")
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == 3.0


def test_non_json_body_becomes_the_message() -> None:
    error = error_from_status(502, b"<html>bad gateway</html>")
    assert isinstance(error, ServerError)
    assert "bad gateway" in str(error)


def test_an_apply_the_schema_cannot_type_is_a_rejected_body_not_a_server_fault() -> None:
    typed = error_from_status(
        500,
        {
            "code": 500,
            "message": "failed to create typed patch object (ns/x; apps/v1, Kind=Deployment): "
            ".spec.template.spec.affinity.zone: field not declared in schema",
        },
    )
    assert is_schema_rejection(typed)
    assert not is_schema_rejection(
        error_from_status(500, {"code": 500, "message": "etcdserver: leader changed"})
    )
