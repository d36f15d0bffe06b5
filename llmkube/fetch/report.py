"""The fetch's verdict as the kubelet and the reconciler need it: one JSON line, under 4096 bytes.

The kubelet keeps at most 4096 bytes of a termination message; a cut JSON object would be unreadable, so a
result that is too long loses the tail of its message (the only unbounded field besides a URL-bearing path)
rather than its closing brace.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import attrs

from api.v1alpha1.converter import to_wire
from api.v1alpha1.fetch_result import FetchResult

TERMINATION_MESSAGE_LIMIT = 4096
DEFAULT_TERMINATION_LOG = Path("/dev/termination-log")


def result_line(result: FetchResult, *, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
    line = _encode(result)
    while len(line.encode()) > limit and result.message:
        excess = len(line.encode()) - limit
        keep = max(len(result.message) - excess - 1, 0)
        result = attrs.evolve(result, message=result.message[:keep] + "…")
        line = _encode(result)
        if keep == 0:
            break
    return line


def failure_line(result: FetchResult) -> str:
    """The one line a human reads in the Job's log: the reason, then what went wrong and how to fix it."""
    return f"fetch failed: {result.reason}: {result.message}"


def default_termination_log() -> Path | None:
    """The kubelet's file when running in a pod (it mounts one); elsewhere none is created, even as root."""
    path = DEFAULT_TERMINATION_LOG
    return path if path.is_file() and os.access(path, os.W_OK) else None


def write_termination_message(path: Path, line: str) -> None:
    # The stdout copy of the line still reaches the logs; a missing message file must not mask the result.
    with contextlib.suppress(OSError):
        path.write_text(line)


def _encode(result: FetchResult) -> str:
    return json.dumps(to_wire(result), separators=(",", ":"), ensure_ascii=False)
