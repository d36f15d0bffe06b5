"""The gateway runs on uvloop wherever it is installed, and the options it passes anyio really select it."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from llmkube.gateway import event_loop


async def running_loop_module() -> str:
    assert type(asyncio.get_running_loop()).__module__.startswith(event_loop.running_loop_name())
    return event_loop.running_loop_name()


def test_uvloop_is_installed_with_llmkube_on_linux() -> None:
    assert event_loop.uvloop_installed()


def test_the_backend_options_run_the_gateway_on_uvloop() -> None:
    module = anyio.run(running_loop_module, backend="asyncio", backend_options=event_loop.backend_options())
    assert module == "uvloop"


def test_without_uvloop_the_gateway_runs_on_asyncios_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "uvloop_installed", lambda: False)
    module = anyio.run(running_loop_module, backend="asyncio", backend_options=event_loop.backend_options())
    assert module == "asyncio"
