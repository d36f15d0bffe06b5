"""Jittered exponential backoff that forgets after a healthy spell (the reflector's retry pacing).

Starting at 0.8 s and doubling to a 30 s cap, with up to 100% jitter so a fleet of informers restarted together
does not reconnect in lockstep; at the cap that is about 0.03-0.07 attempts per second per informer against an
unhealthy apiserver. If no failure happened for `reset_after` seconds the next one starts again from `initial`:
a watch that ran for an hour and then dropped deserves a quick reconnect, not a 30 s wait.

The host agent paces its server restarts and model fetches with the same class. The schedule itself is the one
every retry loop shares (controller.backoff); the jitter and the healthy-spell reset are what is particular here.
"""

from __future__ import annotations

import random

from controller.backoff import exponential_delay
from controller.runtime.clock import Clock, MonotonicClock


class Backoff:
    def __init__(
        self,
        *,
        initial: float = 0.8,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._factor = factor
        self._jitter = jitter
        self._reset_after = reset_after
        self._clock = clock or MonotonicClock()
        self._rng = rng or random.Random()
        # Failures since the last reset; the next delay is the schedule's for this count.
        self._failures = 0
        self._last_failure: float | None = None

    def next_delay(self) -> float:
        """The wait before the next attempt, advancing the exponent for the one after."""
        now = self._clock.now()
        if self._last_failure is not None and now - self._last_failure >= self._reset_after:
            self._failures = 0
        self._last_failure = now
        base = exponential_delay(
            self._failures, initial=self._initial, maximum=self._maximum, factor=self._factor
        )
        self._failures += 1
        return min(base * (1.0 + self._jitter * self._rng.random()), self._maximum)

    def reset(self) -> None:
        self._failures = 0
        self._last_failure = None

    async def wait(self) -> float:
        """Sleep for `next_delay()` on the injected clock; returns the delay slept."""
        delay = self.next_delay()
        await self._clock.sleep_until(self._clock.now() + delay)
        return delay
