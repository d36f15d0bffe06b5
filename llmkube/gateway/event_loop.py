"""Which event loop the gateway runs on.

Every request through the gateway is parsed, routed and relayed chunk by chunk on one event loop, and on a node
shared with a model server that CPU time is what requests arriving together wait for. uvloop (libuv) does the
same work for about a fifth less CPU than asyncio's own loop (docs/benchmarks.md), so the gateway runs on it
wherever it is installed (a dependency on Linux and macOS); elsewhere it falls back to asyncio's loop, which
behaves the same, only slower.
"""

from __future__ import annotations

import importlib.util


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def backend_options() -> dict[str, bool]:
    """anyio's options for the asyncio backend: uvloop when it is installed."""
    return {"use_uvloop": uvloop_installed()}


def loop_name() -> str:
    return "uvloop" if uvloop_installed() else "asyncio"
