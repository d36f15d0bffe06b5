"""The rate-limiting queue: a delaying queue that asks a `RateLimiter` how long a failed key should wait.

`forget` only clears the limiter's history of a key; the worker must still call `done`. Forgetting is what
resets the backoff after a success, so a worker that never forgets leaves every key that once failed on a long
delay, and the limiter's per-key table grows without bound.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.runtime.clock import Clock, MonotonicClock
from controller.runtime.workqueue.delaying import DelayingQueue
from controller.runtime.workqueue.metrics import MetricsProvider
from controller.runtime.workqueue.queue import T
from controller.runtime.workqueue.rate_limiters import RateLimiter, default_controller_rate_limiter


class RateLimitingQueue(DelayingQueue[T]):
    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        metrics_provider: MetricsProvider | None = None,
        priority_of: Callable[[T], int] | None = None,
    ) -> None:
        clock = clock or MonotonicClock()
        super().__init__(name=name, clock=clock, metrics_provider=metrics_provider, priority_of=priority_of)
        self.rate_limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(clock=clock)

    def add_rate_limited(self, item: T) -> None:
        """Add `item` once the rate limiter allows it, recording one more failure of it."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset `item`'s backoff (call it when a reconcile succeeded or gave up for good)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
