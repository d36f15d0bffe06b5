"""The delaying queue: keys arrive when their deadline passes on the injected clock, never earlier.

Each test runs the queue's waiting loop in its own task group (a fixture cannot hold one open across its yield,
since pytest-asyncio runs fixture setup and teardown in different tasks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from controller.runtime.clock import FakeClock
from controller.runtime.workqueue import DelayingQueue


@pytest.fixture
def queue(clock: FakeClock) -> DelayingQueue[str]:
    return DelayingQueue(name="test", clock=clock)


@asynccontextmanager
async def running(queue: DelayingQueue[str]) -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        yield
        queue.shut_down()


async def step(clock: FakeClock, seconds: float) -> None:
    clock.step(seconds)
    await anyio.wait_all_tasks_blocked()


async def test_adds_a_key_only_once_its_delay_has_passed(queue: DelayingQueue[str], clock: FakeClock) -> None:
    async with running(queue):
        queue.add_after("a", 5)

        await step(clock, 4.999)
        assert len(queue) == 0
        await step(clock, 0.001)
        assert len(queue) == 1
        assert queue.waiting == 0


async def test_adds_at_once_when_the_delay_is_not_positive(queue: DelayingQueue[str]) -> None:
    async with running(queue):
        queue.add_after("a", 0)
        queue.add_after("b", -1)

        assert len(queue) == 2


async def test_a_later_deadline_does_not_postpone_a_waiting_key(
    queue: DelayingQueue[str], clock: FakeClock
) -> None:
    async with running(queue):
        queue.add_after("a", 1)
        queue.add_after("a", 10)

        await step(clock, 1)
        assert await queue.get() == "a"


async def test_an_earlier_deadline_brings_a_waiting_key_forward(
    queue: DelayingQueue[str], clock: FakeClock
) -> None:
    async with running(queue):
        queue.add_after("a", 10)
        queue.add_after("a", 1)

        await step(clock, 1)
        assert len(queue) == 1
        queue.done(await queue.get())
        await step(clock, 9)
        assert len(queue) == 0, "the superseded deadline must not add the key a second time"


async def test_delayed_keys_arrive_in_deadline_order(queue: DelayingQueue[str], clock: FakeClock) -> None:
    async with running(queue):
        queue.add_after("late", 3)
        queue.add_after("early", 1)
        queue.add_after("middle", 2)

        await step(clock, 3)
        assert [await queue.get() for _ in range(3)] == ["early", "middle", "late"]


async def test_a_plain_add_leaves_a_pending_add_after_in_place(
    queue: DelayingQueue[str], clock: FakeClock
) -> None:
    async with running(queue):
        queue.add_after("a", 5)
        queue.add("a")
        queue.done(await queue.get())

        await step(clock, 5)
        assert len(queue) == 1


async def test_drops_waiting_keys_on_shut_down(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(name="test", clock=clock)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add_after("a", 5)
        queue.shut_down()

    assert queue.waiting == 0
    assert len(queue) == 0


async def test_ignores_add_after_once_shut_down(clock: FakeClock) -> None:
    queue: DelayingQueue[str] = DelayingQueue(name="test", clock=clock)
    queue.shut_down()
    queue.add_after("a", 5)

    assert queue.waiting == 0
