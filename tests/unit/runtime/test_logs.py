"""Log lines are single JSON objects carrying the reconcile context bound in contextvars."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from controller.runtime.logs import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging(level="info", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_reconcile_context_appears_on_every_line(stream: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(controller="model", key="ns/m", reconcile_id="r-1"):
        structlog.get_logger("controller.test").info("reconciled", phase="Ready")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["controller"] == "model"
    assert line["key"] == "ns/m"
    assert line["reconcile_id"] == "r-1"
    assert line["event"] == "reconciled"
    assert line["level"] == "info"


def test_standard_library_loggers_are_rendered_as_json_too(stream: io.StringIO) -> None:
    logging.getLogger("somelibrary").warning("disk %s", "full")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert (line["event"], line["level"]) == ("disk full", "warning")


def test_exceptions_stay_on_one_line(stream: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("controller.test").exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "boom" in json.dumps(json.loads(lines[0])["exception"])
