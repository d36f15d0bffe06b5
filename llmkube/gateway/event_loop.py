"""Which event loop the gateway runs on.

Every request through the gateway is parsed, routed and relayed chunk by chunk on one event loop, and on a node
shared with a model server that CPU time is what requests arriving together wait for. uvloop (libuv) does the
same work for about a fifth less CPU than asyncio's own loop (docs/benchmarks.md), so the gateway runs on it
wherever it is installed (a dependency on Linux and macOS); elsewhere it falls back to asyncio's loop, which
behaves the same, only slower.
"""

from __future__ import annotations

import asyncio
import importlib.util


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def backend_options() -> dict[str, bool]:
    """anyio's options for the asyncio backend: uvloop when it is installed."""
    return {"use_uvloop": uvloop_installed()}


def running_loop_name() -> str:
    """The loop this code runs on ("uvloop" or "asyncio"), as the log reports it; call inside the loop."""
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]
