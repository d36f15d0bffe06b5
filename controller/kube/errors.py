"""Typed API errors, mapped from HTTP status codes and `Status` bodies.

Callers branch on the class (`except NotFound`), never on numbers or on kubernetes_asyncio's `ApiException`, so
that no library type leaks above this package. The server's own message is kept verbatim because for 422 it
names the offending field, which is the fix the user needs.

The same mapping serves plain responses and `ERROR` events inside a watch stream: a watch from an expired
resourceVersion answers HTTP 200 and then a `Status` with code 410, which must become `Gone` just like a LIST
with an expired continue token that answers a plain 410.
"""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """An API call failed; `status` is the HTTP code (0 when no response arrived)."""

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.details: dict[str, Any] = details or {}


class BadRequest(KubeError):
    """400: malformed request (bad selector, wrong patch type)."""


class Unauthorized(KubeError):
    """401: credentials missing or expired; a new token or kubeconfig is needed."""


class Forbidden(KubeError):
    """403: RBAC denies the verb; the message names verb, resource and user."""


class NotFound(KubeError):
    """404: the object (or the API group, when a CRD is not installed) does not exist."""


class Conflict(KubeError):
    """409: stale resourceVersion, or a server-side apply field conflict. Re-read and retry."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: create of a name that is taken."""


class Gone(KubeError):
    """410: resourceVersion or continue token too old for the server's history; relist from scratch."""


class Invalid(KubeError):
    """422: the object fails validation; the message names the field."""


class TooManyRequests(KubeError):
    """429: throttled by API priority and fairness; `retry_after` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float = 0.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(KubeError):
    """5xx: the apiserver or etcd failed; worth retrying with backoff."""


class RequestTimeout(KubeError, TimeoutError):
    """No complete answer within the client-side deadline (connect or total)."""


class ConnectionFailed(KubeError):
    """The TCP/TLS connection could not be made or broke mid-response."""


class ConfigUnavailable(KubeError):
    """No kubeconfig, context or in-cluster credentials to connect with; nothing was sent."""


class WatchInactive(RequestTimeout):
    """A watch stream delivered no bytes for longer than its inactivity deadline: presumed dead.

    Load balancers can keep the client side of a connection open after the server side died; neither TCP nor
    the server's `timeoutSeconds` notices, so only a client-side deadline does.
    """


_BY_STATUS: dict[int, type[KubeError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def parse_status_body(body: bytes | str | dict[str, Any] | None) -> dict[str, Any]:
    """A `Status` object from a response body, or an empty dict when the body is not one."""
    if isinstance(body, dict):
        return body
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return {"message": text.strip()[:1000]}
    return parsed if isinstance(parsed, dict) else {}


def error_from_status(
    status: int,
    body: bytes | str | dict[str, Any] | None,
    *,
    context: str = "",
    retry_after: str | None = None,
) -> KubeError:
    """The typed error for a failed call; `context` (e.g. "PATCH apps/v1 deployments ns/x") prefixes the message."""
    parsed = parse_status_body(body)
    code = int(parsed.get("code") or status)
    reason = str(parsed.get("reason") or "")
    server_message = str(parsed.get("message") or reason or f"HTTP {code}")
    details = parsed.get("details") if isinstance(parsed.get("details"), dict) else None
    message = (
        f"{context}: {code} {reason}: {server_message}" if context else f"{code} {reason}: {server_message}"
    )
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists(message, status=code, reason=reason, details=details)
    if code == 410 or reason in ("Expired", "Gone"):
        return Gone(message, status=410, reason=reason, details=details)
    if code == 429:
        return TooManyRequests(
            message, status=code, reason=reason, details=details, retry_after=_seconds(retry_after, details)
        )
    cls = _BY_STATUS.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else KubeError
    return cls(message, status=code, reason=reason, details=details)


def _seconds(header: str | None, details: dict[str, Any] | None) -> float:
    for candidate in (header, (details or {}).get("retryAfterSeconds")):
        try:
            if candidate is not None:
                return max(0.0, float(candidate))
        except (TypeError, ValueError):
            continue
    return 0.0


def is_schema_rejection(error: KubeError) -> bool:
    """A server-side apply the API server could not type against the kind's schema (a field the schema does
    not declare, e.g. an unknown key in a pass-through `affinity`). It answers 500, yet the body is at fault and
    retrying the same body can only fail again."""
    return isinstance(error, ServerError) and "failed to create typed patch object" in error.message
