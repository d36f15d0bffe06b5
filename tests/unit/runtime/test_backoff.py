"""Reflector backoff: doubling from 0.8 s with jitter, capped at 30 s, forgotten after a healthy spell."""

from __future__ import annotations

import random

from controller.runtime.backoff import Backoff
from controller.runtime.clock import FakeClock


def no_jitter(clock: FakeClock) -> Backoff:
    return Backoff(clock=clock, jitter=0.0)


def test_doubles_from_initial_to_the_cap(clock: FakeClock) -> None:
    backoff = no_jitter(clock)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]


def test_jitter_stays_between_base_and_cap(clock: FakeClock) -> None:
    backoff = Backoff(clock=clock, rng=random.Random(7))
    first = backoff.next_delay()
    assert 0.8 <= first <= 1.6
    assert all(backoff.next_delay() <= 30.0 for _ in range(20))


def test_resets_after_a_healthy_period(clock: FakeClock) -> None:
    backoff = no_jitter(clock)
    for _ in range(5):
        backoff.next_delay()
    clock.step(121)
    assert backoff.next_delay() == 0.8


def test_does_not_reset_while_failures_keep_coming(clock: FakeClock) -> None:
    backoff = no_jitter(clock)
    backoff.next_delay()
    clock.step(60)
    assert backoff.next_delay() == 1.6


async def test_wait_sleeps_on_the_injected_clock(clock: FakeClock) -> None:
    import anyio

    backoff = no_jitter(clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(backoff.wait)
        await anyio.wait_all_tasks_blocked()
        clock.step(0.8)
    assert backoff.next_delay() == 1.6
