"""Polling helpers: the state integration tests wait for lives in the API server, so there is nothing to await."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from controller.kube import NotFound

T = TypeVar("T")

POLL_SECONDS = 0.25


async def wait_for(
    fetch: Callable[[], Awaitable[T]], check: Callable[[T], bool], *, within: float = 90.0, what: str = ""
) -> T:
    """Poll `fetch()` until `check` holds; a NotFound counts as "not yet"."""
    last: T | None = None
    try:
        with anyio.fail_after(within):
            while True:
                try:
                    last = await fetch()
                except NotFound:
                    last = None
                if last is not None and check(last):
                    return last
                await anyio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {within:g}s waiting for {what or 'condition'}; last: {last}"
        ) from None


async def wait_gone(fetch: Callable[[], Awaitable[Any]], *, within: float = 90.0, what: str = "") -> None:
    """Poll `fetch()` until it raises NotFound."""
    try:
        with anyio.fail_after(within):
            while True:
                try:
                    await fetch()
                except NotFound:
                    return
                await anyio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise AssertionError(f"timed out after {within:g}s waiting for {what or 'deletion'}") from None
