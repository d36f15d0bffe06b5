"""Admission per service: at most `capacity` requests in flight, a bounded FIFO of waiters, then refusal.

`capacity` is slots x ready replicas: llama-server runs `--parallel` requests at once and parks the rest in its
own unbounded queue, so anything the gateway lets through beyond the slots would only wait there, invisible and
unbounded. Here the wait is visible (queue depth, time in queue) and bounded in two ways: a full queue refuses at
once (429, the client should back off), and a waiter that is not admitted within its wait limit gives up (503).

Handing over is direct: a leaving request passes its slot to the oldest waiter without the count dropping, so a
request arriving at that instant can never overtake the queue. Capacity changes (replicas becoming ready or going
away) admit waiters up to the new capacity; a drop below `in_flight` admits nobody until enough have left.

Everything runs on one event loop; the state needs no lock. Every `Ticket` that `arrive` returns must be given
back through `leave` (admitted) or `abandon` (gave up), which `admitted()` does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio


class QueueFull(Exception):
    """Every slot is busy and the queue holds `queue_limit` waiters already."""


class QueueTimeout(Exception):
    """A waiter was not admitted within its wait limit."""


class Ticket:
    """One request's place: admitted at once, or waiting for `admitted_event`."""

    def __init__(self, *, admitted: bool) -> None:
        self.admitted = admitted
        self.admitted_event = anyio.Event()
        if admitted:
            self.admitted_event.set()


class Gate:
    def __init__(self, *, queue_limit: int, capacity: int = 0) -> None:
        if queue_limit < 0:
            raise ValueError("queue_limit must be 0 or more")
        self.queue_limit = queue_limit
        self._capacity = max(0, capacity)
        # Requests admitted and not yet left. May exceed `_capacity` for a while after the capacity dropped.
        self._in_flight = 0
        # Not admitted yet, oldest first; never more than `queue_limit`. Non-empty only while `_in_flight` is at
        # or above `_capacity` (a free slot is handed to the oldest waiter at once).
        self._waiting: deque[Ticket] = deque()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def busy(self) -> bool:
        """Something is running or waiting: what keeps a service from being scaled to zero."""
        return self._in_flight > 0 or bool(self._waiting)

    def arrive(self) -> Ticket:
        """A ticket, admitted when a slot is free and nobody waits; raises QueueFull when the queue is full."""
        if not self._waiting and self._in_flight < self._capacity:
            self._in_flight += 1
            return Ticket(admitted=True)
        if len(self._waiting) >= self.queue_limit:
            raise QueueFull
        ticket = Ticket(admitted=False)
        self._waiting.append(ticket)
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """An admitted request finished: its slot goes to the oldest waiter, or back to the pool."""
        if not ticket.admitted:
            raise ValueError("leave() is for admitted tickets; use abandon() for waiting ones")
        self._in_flight -= 1
        self._admit_waiters()

    def abandon(self, ticket: Ticket) -> None:
        """A waiter gave up (timed out, or its client left); if it was admitted meanwhile, it leaves instead."""
        if ticket.admitted:
            self.leave(ticket)
            return
        with suppress(ValueError):  # already handed a slot and left, or never queued
            self._waiting.remove(ticket)

    def set_capacity(self, capacity: int) -> None:
        self._capacity = max(0, capacity)
        self._admit_waiters()

    def _admit_waiters(self) -> None:
        while self._waiting and self._in_flight < self._capacity:
            ticket = self._waiting.popleft()
            ticket.admitted = True
            self._in_flight += 1
            ticket.admitted_event.set()


@asynccontextmanager
async def admitted(gate: Gate, *, wait_limit: float) -> AsyncIterator[bool]:
    """Hold a slot for the block; yields whether the request had to wait. Raises QueueFull or QueueTimeout.

    Cancellation while waiting (the client went away) gives the place up; a slot granted in the same instant
    as the timeout is given back, never leaked.
    """
    ticket = gate.arrive()
    waited = not ticket.admitted
    try:
        if waited:
            with anyio.move_on_after(wait_limit):
                await ticket.admitted_event.wait()
            if not ticket.admitted:
                raise QueueTimeout
    except BaseException:
        gate.abandon(ticket)
        raise
    try:
        yield waited
    finally:
        gate.leave(ticket)
