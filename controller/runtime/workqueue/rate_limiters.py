"""How long a failed key waits before its next try.

`when(key)` both answers and records a failure, so call it once per retry. `forget(key)` clears a key's history
once it succeeded; without it the per-key counters grow forever. The controller default is the larger of a per-key
exponential backoff (5 ms doubling up to 1000 s) and a process-wide token bucket (10 retries/s, burst 100), so one
flapping key backs off on its own while a storm of failing keys is capped overall.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from controller.backoff import exponential_delay
from controller.runtime.clock import Clock

DEFAULT_BASE_DELAY = 0.005
DEFAULT_MAX_DELAY = 1000.0
DEFAULT_QPS = 10.0
DEFAULT_BURST = 100


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds `item` should wait before its next try; records one more failure."""
        ...

    def forget(self, item: Hashable) -> None:
        """Drop `item`'s failure history, whether or not it succeeded."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        """How many failures of `item` are recorded."""
        ...


class ItemExponentialFailureRateLimiter:
    """`base * 2**failures`, capped at `max_delay`, counted per key."""

    def __init__(
        self, *, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY
    ) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        # Failures of each key since it was last forgotten; absent means zero.
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        return exponential_delay(failures, initial=self._base_delay, maximum=self._max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket shared by all keys, with reservation semantics.

    Every call takes a token even when none is left (the count goes negative), and the delay is how long the
    bucket needs to refill to zero: so after the burst, retries are spaced `1/qps` apart across all keys.
    """

    def __init__(self, *, qps: float = DEFAULT_QPS, burst: int = DEFAULT_BURST, clock: Clock) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs qps > 0 and burst >= 1, got qps={qps} burst={burst}")
        self._qps = qps
        self._burst = burst
        self._clock = clock
        # Tokens as of `_last`; at most `burst`, negative while reservations are outstanding. Starts full.
        self._tokens = float(burst)
        self._last = clock.now()

    def when(self, item: Hashable) -> float:
        now = self._clock.now()
        if now > self._last:
            self._tokens = min(float(self._burst), self._tokens + (now - self._last) * self._qps)
            self._last = now
        self._tokens -= 1.0
        return max(0.0, -self._tokens / self._qps)

    def forget(self, item: Hashable) -> None:
        """A shared bucket keeps no per-key history."""

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters; every limiter records every failure."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        # A list, not a generator: each limiter must see the failure, even after a longer delay was found.
        return max([limiter.when(item) for limiter in self._limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_controller_rate_limiter(*, clock: Clock) -> RateLimiter:
    """Per-key 5 ms .. 1000 s backoff, max'ed with a 10 qps / burst 100 bucket."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay=DEFAULT_BASE_DELAY, max_delay=DEFAULT_MAX_DELAY),
        BucketRateLimiter(qps=DEFAULT_QPS, burst=DEFAULT_BURST, clock=clock),
    )
