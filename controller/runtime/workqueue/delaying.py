"""The delaying queue: `add_after(key, seconds)` adds the key once its deadline has passed.

Deadlines sit in a min-heap read by one waiting loop (`run`), which sleeps on the injected clock until the
earliest deadline, or until an insert brings a new earliest deadline, or for at most `MAX_WAIT` seconds (the
heartbeat client-go keeps as insurance against a missed wake-up). A key already waiting keeps the *earlier* of its
two deadlines. A plain `add` does not cancel a pending `add_after`: the key then runs now and again at the
deadline, which is harmless because reconciles are level-based.

The waiting loop is not started by the constructor; whoever owns the queue starts `run` in its task group
(a queue that started itself would leak the task), and `run` returns once the queue shuts down. Keys still
waiting at shutdown are dropped.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Generic

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from controller.runtime.clock import Clock
from controller.runtime.workqueue.metrics import MetricsProvider
from controller.runtime.workqueue.queue import Queue, T

MAX_WAIT = 10.0


@attrs.define(kw_only=True, eq=False)
class _WaitingEntry(Generic[T]):
    ready_at: float
    # Insertion order breaks ties, so keys with the same deadline are added in the order they were scheduled.
    sequence: int
    item: T
    # False once the key was rescheduled earlier or added; the heap drops stale entries lazily when it pops them.
    live: bool = True

    def __lt__(self, other: _WaitingEntry[T]) -> bool:
        return (self.ready_at, self.sequence) < (other.ready_at, other.sequence)


class DelayingQueue(Queue[T]):
    """A `Queue` with `add_after`; the owner must run `run` for delayed keys to ever arrive."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        metrics_provider: MetricsProvider | None = None,
        priority_of: Callable[[T], int] | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics_provider=metrics_provider, priority_of=priority_of)
        # Entries by deadline; may hold stale entries (live=False), never two live ones for one key.
        self._heap: list[_WaitingEntry[T]] = []
        # The live entry of each waiting key; exactly the keys with a live entry in `_heap`.
        self._waiting: dict[T, _WaitingEntry[T]] = {}
        self._sequence = itertools.count()
        # Set to cut the waiting loop's sleep short: a new earliest deadline, or shutdown.
        self._wake_up = anyio.Event()

    @property
    def waiting(self) -> int:
        """How many keys wait for their deadline (informational, like `len`)."""
        return len(self._waiting)

    def add_after(self, item: T, seconds: float) -> None:
        """Add `item` after `seconds`; at once when `seconds <= 0`. Counted as a retry either way."""
        if self.shutting_down:
            return
        self._metrics.retry()
        if seconds <= 0:
            self.add(item)
            return
        ready_at = self._clock.now() + seconds
        existing = self._waiting.get(item)
        if existing is not None:
            if ready_at >= existing.ready_at:
                return
            existing.live = False
        entry = _WaitingEntry(ready_at=ready_at, sequence=next(self._sequence), item=item)
        self._waiting[item] = entry
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._wake_up.set()

    def shut_down(self) -> None:
        super().shut_down()
        self._wake_up.set()

    async def shut_down_with_drain(self) -> None:
        self._wake_up.set()
        await super().shut_down_with_drain()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The waiting loop: move keys whose deadline passed into the queue, until the queue shuts down."""
        task_status.started()
        while not self.shutting_down:
            now = self._clock.now()
            self._add_ready(now)
            next_deadline = now + MAX_WAIT
            if self._heap:
                next_deadline = min(next_deadline, self._heap[0].ready_at)
            await self._sleep_until(next_deadline)
        self._heap.clear()
        self._waiting.clear()

    def _add_ready(self, now: float) -> None:
        while self._heap and self._heap[0].ready_at <= now:
            entry = heapq.heappop(self._heap)
            if entry.live:
                del self._waiting[entry.item]
                self.add(entry.item)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep on the clock until `deadline`, or less if `_wake_up` is set meanwhile."""
        if self._wake_up.is_set():
            self._wake_up = anyio.Event()
            await anyio.lowlevel.checkpoint()
            return
        wake_up = self._wake_up

        async def wake_at_deadline() -> None:
            await self._clock.sleep_until(deadline)
            wake_up.set()

        async with anyio.create_task_group() as timer:
            timer.start_soon(wake_at_deadline)
            await wake_up.wait()
            timer.cancel_scope.cancel()
        self._wake_up = anyio.Event()
