"""The core work-queue: fair, stingy and shutdown-aware, with client-go's semantics.

Fair: keys come out in the order they went in. Stingy: a key added many times before a worker takes it is handed
out once, and a key is never held by two workers; a key added while a worker holds it is parked in `dirty` and
re-queued when that worker calls `done`, so the reconcile runs again after the current one and never beside it.

Everything runs on one event loop, so the state needs no lock; what client-go does with a condition variable is
done here with a FIFO of per-getter events, so a wake-up goes to the longest waiter and is passed on if that
waiter is cancelled before it takes its key.

Priority: a queue built with `priority_of` hands out keys of a higher priority first, FIFO within one priority
(as controller-runtime's priority queue). A key added again while it waits keeps the higher of its priorities,
and one raised goes to the end of its new priority's line. The controller uses it so that a burst of new objects
is not kept waiting behind slower follow-up passes of objects already started. Without `priority_of` every key
has priority 0 and the queue is the plain FIFO.

Shutdown: `get` raises `QueueShutDown` once the queue is shutting down *and* empty. Keys already queued are still
handed out after a shutdown (as in client-go), so a drain processes them; `add` after shutdown drops the key.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

from controller.runtime.clock import Clock, MonotonicClock
from controller.runtime.workqueue.metrics import NOOP_METRICS_PROVIDER, MetricsProvider, QueueMetrics

T = TypeVar("T", bound=Hashable)


class QueueShutDown(Exception):
    """Raised by `get` when the queue is shut down and has nothing left to hand out: the worker should exit."""


class QueueEmpty(Exception):
    """Raised by `get_nowait` when no key is ready."""


class Queue(Generic[T]):
    """A FIFO of keys with a dirty set and a processing set.

    Every worker must call `done(key)` for each key that `get` returned, even when the work failed, or the key is
    never handed out again and `shut_down_with_drain` waits forever.
    """

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        metrics_provider: MetricsProvider | None = None,
        priority_of: Callable[[T], int] | None = None,
    ) -> None:
        self._clock: Clock = clock or MonotonicClock()
        self._priority_of = priority_of
        # A queue without a name has no metrics, as in client-go: two unnamed queues would share one series.
        provider = metrics_provider if (metrics_provider is not None and name) else NOOP_METRICS_PROVIDER
        self._metrics = QueueMetrics(name=name, clock=self._clock, provider=provider)
        self.name = name
        # Keys waiting for a worker, one line per priority, in order, each entry stamped with a sequence number. A
        # line may hold stale entries (a key since raised to a higher priority, or taken and queued again); an
        # entry counts only while `_queued` holds the key with that entry's priority and stamp.
        self._lines: dict[int, deque[tuple[int, T]]] = {}
        # Each key waiting for a worker, with its priority and its live entry's stamp: exactly the keys in
        # `_dirty` and not in `_processing`.
        self._queued: dict[T, tuple[int, int]] = {}
        self._stamps = itertools.count()
        # Keys that need processing, with the priority they were asked for at: those in `_queued`, plus those
        # re-added while a worker holds them (queued again at that priority by `done`).
        self._dirty: dict[T, int] = {}
        # Keys a worker holds (taken by `get`, not yet `done`). A key here is never in `_queued`.
        self._processing: set[T] = set()
        # Getters blocked on an empty queue, oldest first; each is woken at most once per signal.
        self._getters: deque[anyio.Event] = deque()
        # Set when `_processing` becomes empty or the drain is abandoned; created only while someone drains.
        self._drained: anyio.Event | None = None
        # Once true, never false again: adds are dropped and `get` raises when the queue is empty.
        self._shutting_down = False
        # True while `shut_down_with_drain` waits; a later plain `shut_down` clears it and ends the wait.
        self._drain = False

    def __len__(self) -> int:
        """How many keys wait for a worker. Informational only: never gate `add` or `get` on it."""
        return len(self._queued)

    @property
    def processing(self) -> int:
        """How many keys workers hold right now (informational, like `len`)."""
        return len(self._processing)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: T, *, priority: int | None = None) -> None:
        """Mark `item` as needing processing; a no-op if it already does or the queue is shutting down.

        `priority` defaults to the queue's `priority_of(item)` (0 without one). Adding a key that already needs
        processing only raises its priority, if the new one is higher.
        """
        if self._shutting_down:
            return
        if priority is None:
            priority = self._priority_of(item) if self._priority_of is not None else 0
        asked = self._dirty.get(item)
        if asked is not None:
            if priority > asked:
                self._dirty[item] = priority
                if item in self._queued:
                    self._enqueue(item, priority)
            return
        self._metrics.add(item)
        self._dirty[item] = priority
        if item in self._processing:
            # Its worker re-queues it on `done`; queuing it now would let a second worker take it.
            return
        self._enqueue(item, priority)
        self._signal_one()

    async def get(self) -> T:
        """Wait for the next key and mark it as processing; raise `QueueShutDown` once shut down and empty.

        Always a checkpoint, so a worker whose reconciles never block cannot starve the other tasks.
        """
        await anyio.lowlevel.checkpoint()
        while not self._queued:
            if self._shutting_down:
                raise QueueShutDown(f"work-queue {self.name!r} is shut down")
            waiter = anyio.Event()
            self._getters.append(waiter)
            try:
                await waiter.wait()
            except BaseException:
                if waiter.is_set():
                    # We were chosen for a key we will not take: hand the wake-up to the next getter.
                    self._signal_one()
                else:
                    self._getters.remove(waiter)
                raise
        return self._take()

    def get_nowait(self) -> T:
        """Take the next key without waiting; raise `QueueEmpty` (or `QueueShutDown`) if there is none."""
        if not self._queued:
            if self._shutting_down:
                raise QueueShutDown(f"work-queue {self.name!r} is shut down")
            raise QueueEmpty(f"work-queue {self.name!r} has no key ready")
        return self._take()

    def done(self, item: T) -> None:
        """Release `item`; if it was re-added while held, queue it again now."""
        self._metrics.done(item)
        self._processing.discard(item)
        priority = self._dirty.get(item)
        if priority is not None:
            self._enqueue(item, priority)
            self._signal_one()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    def shut_down(self) -> None:
        """Stop accepting keys and wake every getter; does not wait for workers (and ends a pending drain)."""
        self._drain = False
        self._shutting_down = True
        self._signal_all()
        if self._drained is not None:
            self._drained.set()

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until every key handed out has been `done` (or `shut_down` abandons the wait).

        Keys still queued keep being handed out meanwhile, so workers finish what was already asked of them.
        """
        self._drain = True
        self._shutting_down = True
        self._signal_all()
        while self._processing and self._drain:
            if self._drained is None or self._drained.is_set():
                self._drained = anyio.Event()
            await self._drained.wait()

    def _enqueue(self, item: T, priority: int) -> None:
        stamp = next(self._stamps)
        self._queued[item] = (priority, stamp)
        line = self._lines.get(priority)
        if line is None:
            line = self._lines[priority] = deque()
        line.append((stamp, item))

    def _take(self) -> T:
        """Pop the first live entry of the highest priority's line; only called while `_queued` is not empty."""
        while True:
            priority = max(self._lines)
            line = self._lines[priority]
            stamp, item = line.popleft()
            if not line:
                del self._lines[priority]
            if self._queued.get(item) == (priority, stamp):
                break
        del self._queued[item]
        self._metrics.get(item)
        self._processing.add(item)
        del self._dirty[item]
        return item

    def _signal_one(self) -> None:
        if self._getters:
            self._getters.popleft().set()

    def _signal_all(self) -> None:
        while self._getters:
            self._getters.popleft().set()
