"""Logging: one JSON object per line, for every logger in the process.

structlog renders our own events; the standard library's loggers (aiohttp, kubernetes_asyncio) are routed
through the same formatter, so a log pipeline sees one format. Per-reconcile context is not passed around: the
controller binds `controller`, `key` and `reconcile_id` with `structlog.contextvars.bound_contextvars(...)` in
the worker task, and every line logged during that reconcile carries them (anyio tasks copy the context at
spawn, so concurrent workers never see each other's keys).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor


def configure_logging(*, level: str = "info", json: bool = True, stream: TextIO | None = None) -> None:
    """Install the process-wide configuration; `json=False` gives aligned console output for humans."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        final.append(structlog.processors.dict_tracebacks)
    final.append(renderer)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger first used before configuration (or inside structlog.testing.capture_logs) must
        # still follow the configuration in force when it logs.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=final,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Library chatter at INFO (every aiohttp access line) drowns the controller's own events.
    for noisy in ("aiohttp.access", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
