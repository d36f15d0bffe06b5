"""When a scale-to-zero service goes back to zero, and when this replica tells the others it saw traffic.

The gateway owns the scale-down because it is the one component that sees requests; the controller only sees
replicas. Several gateway replicas each see part of the traffic, so they share it through one annotation on the
InferenceService (`inference.llmkube.dev/last-request-time`): a replica that has served the service since the
annotation was last written writes it again, at most every quarter of `idleSeconds`, and while it has requests
in flight it keeps it fresh. A replica scales the service down only when

- the service opts in and runs at least one replica,
- nothing is in flight or waiting in this replica,
- no replica is still loading (wanted but not ready, and the service has not failed) — a model that takes longer
  to load than `idleSeconds` must not be killed and woken forever,
- and nobody has seen a request for `idleSeconds`: not this replica, not the annotation, and the idle time
  counts from when the service last became ready (or was first seen), so a freshly woken service gets its full
  idle period before anyone may put it back to sleep.

The scale-down itself is a write to the scale subresource conditional on the resourceVersion the decision was
made from, so a wake or a heartbeat by another replica in between makes it fail with a conflict instead of
putting a service to sleep under someone's request.

All times here are Unix seconds (wall clock), because the annotation is compared across machines.
"""

from __future__ import annotations

from datetime import UTC, datetime

from llmkube.gateway.routes import Route

#: Heartbeats are never written more often than this, whatever `idleSeconds` is.
MIN_HEARTBEAT_INTERVAL = 1.0


def idle_since(
    route: Route, *, local_last_request: float | None, ready_since: float | None, seen_since: float
) -> float:
    """The latest moment anyone can vouch the service was in use (or became usable)."""
    moments = [
        seen_since,
        *(m for m in (local_last_request, route.last_request, ready_since) if m is not None),
    ]
    return max(moments)


def scale_down_blocker(route: Route, *, busy: bool, idle_since: float, now: float) -> str | None:
    """Why `route` must not go to zero now, or None when it should."""
    if route.idle_seconds is None:
        return "it does not set spec.scaleToZero"
    if route.replicas == 0:
        return "it is already at zero"
    if busy:
        return "requests are in flight or waiting"
    if route.still_loading:
        return "a replica is still loading"
    idle = now - idle_since
    if idle < route.idle_seconds:
        return f"idle for {idle:.1f}s of {route.idle_seconds}s"
    return None


def heartbeat_due(route: Route, *, local_last_request: float | None) -> bool:
    """Whether this replica has seen traffic the annotation does not show yet (by more than the interval)."""
    if route.idle_seconds is None or local_last_request is None:
        return False
    interval = max(MIN_HEARTBEAT_INTERVAL, route.idle_seconds / 4)
    shared = route.last_request or 0.0
    return local_last_request - shared >= interval


def format_time(unix: float) -> str:
    """RFC 3339 with milliseconds: idle periods can be a few seconds, so whole seconds are too coarse."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
