"""The `Server-Timing` header the gateway puts on answers, and how a client reads it back.

A client that sees a slow first token can tell from it whether the time went to waiting for a slot (`queue`),
to the server (`upstream`: from the gateway starting its request, the connection included, to the first
bytes of the answer's body reaching the gateway), or to neither: the gateway, the network or the client
itself. The header is the W3C one, so browsers' developer tools and HTTP tracing show it without anything of
ours.
"""

from __future__ import annotations

import contextlib

TIMING_HEADER = "Server-Timing"


def server_timing(*, queued: float, upstream: float) -> str:
    """The header's value from durations in seconds; the header's `dur` is in milliseconds."""
    return f"queue;dur={queued * 1000:.3f}, upstream;dur={upstream * 1000:.3f}"


def parse_server_timing(value: str) -> dict[str, float]:
    """Milliseconds by metric name; metrics without a readable `dur` are left out."""
    durations: dict[str, float] = {}
    for entry in value.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, number = param.partition("=")
            if key.strip().lower() == "dur":
                with contextlib.suppress(ValueError):
                    durations[name] = float(number.strip().strip('"'))
    return durations
