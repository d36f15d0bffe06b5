"""Injected time, so that queues, backoffs and leases can be driven by hand in tests.

Everything in the runtime that waits or measures takes a `Clock`. Production code uses `MonotonicClock`
(monotonic, so a wall-clock jump never fires timers early or expires a lease); tests use `FakeClock` and step it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale; only differences are meaningful."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline` (a checkpoint even when the deadline has passed)."""
        ...


async def finish_by(clock: Clock, deadline: float, work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work`, cancelling it if `clock` reaches `deadline` first; whether it finished in time.

    `anyio.move_on_after` on the injected clock: a deadline a test can reach by stepping a fake clock.
    """
    finished = False
    async with anyio.create_task_group() as race:

        async def expire() -> None:
            await clock.sleep_until(deadline)
            race.cancel_scope.cancel()

        race.start_soon(expire)
        await work()
        finished = True
        race.cancel_scope.cancel()
    return finished


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - time.monotonic()))


class FakeClock:
    """A clock that moves only when a test calls `step`; sleepers wake when their deadline is reached."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._changed: anyio.Event | None = None

    def now(self) -> float:
        return self._now

    def step(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never moves backwards")
        self._now += seconds
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def sleep_until(self, deadline: float) -> None:
        await anyio.lowlevel.checkpoint()
        while self._now < deadline:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
