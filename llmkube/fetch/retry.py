"""Bounded retries with jittered exponential backoff.

A failure only counts against the budget when the attempt made no progress: a long download over a flaky link
that advances on every attempt should finish, while a source that is down gives up after `retries` tries.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs

from controller.backoff import exponential_delay
from llmkube.fetch.errors import NetworkError, TransientError
from llmkube.fetch.log import log_event

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


@attrs.frozen(kw_only=True)
class Backoff:
    """How often and how patiently to retry; `delay` doubles per failure up to `cap` (the schedule every retry
    loop shares, controller.backoff), then jitters."""

    retries: int = 5
    base_s: float = 1.0
    cap_s: float = 30.0

    def delay(self, failures: int, *, rand: Callable[[], float] = random.random) -> float:
        ceiling = exponential_delay(failures - 1, initial=self.base_s, maximum=self.cap_s)
        # Equal jitter: never zero (a server that just reset us gets a breather), never in lockstep with peers.
        return ceiling / 2 + rand() * ceiling / 2


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    sleep: Sleep,
    what: str,
    progress: Callable[[], int] = lambda: 0,
) -> T:
    """Run `attempt` until it returns, raises a non-transient error, or exhausts the retry budget."""
    failures = 0
    while True:
        mark = progress()
        try:
            return await attempt()
        except TransientError as exc:
            failures = 1 if progress() > mark else failures + 1
            if failures > backoff.retries:
                raise NetworkError(
                    f"{what}: gave up after {backoff.retries} retries, last error: {exc}: "
                    "check that the source is reachable from the cluster (proxy, DNS, egress policy)"
                ) from exc
            delay = backoff.delay(failures)
            log_event("retry", target=what, failure=failures, delaySeconds=round(delay, 2), error=str(exc))
            await sleep(delay)
