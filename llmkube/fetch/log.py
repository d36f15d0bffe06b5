"""JSON log lines on stderr: the Job's logs stay machine-readable while stdout carries only the result."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO


def log_event(event: str, *, stream: TextIO | None = None, **fields: object) -> None:
    """One JSON object per line; callers pass only values that are safe to show (never a token)."""
    line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, separators=(",", ":"))
    print(line, file=stream or sys.stderr, flush=True)
