"""The core queue: fair, stingy, and shutdown-aware, scenario by scenario as client-go tests it."""

from __future__ import annotations

import anyio
import pytest

from controller.runtime.workqueue import Queue, QueueEmpty, QueueShutDown


@pytest.fixture
def queue() -> Queue[str]:
    return Queue(name="test")


async def test_hands_out_keys_in_the_order_they_were_added(queue: Queue[str]) -> None:
    for key in ("a", "b", "c"):
        queue.add(key)

    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_collapses_a_key_added_again_while_it_waits(queue: Queue[str]) -> None:
    queue.add("a")
    queue.add("b")
    queue.add("a")

    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_runs_a_key_readded_while_processing_once_more_after_done(queue: Queue[str]) -> None:
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    queue.add("a")

    assert len(queue) == 0, "a key a worker holds must not be handed to a second worker"
    queue.done(key)
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_get_waits_for_an_add(queue: Queue[str]) -> None:
    got: list[str] = []
    async with anyio.create_task_group() as tg:

        async def worker() -> None:
            got.append(await queue.get())

        tg.start_soon(worker)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        queue.add("a")

    assert got == ["a"]


async def test_wakes_waiting_workers_in_the_order_they_began_waiting(queue: Queue[str]) -> None:
    got: list[tuple[int, str]] = []
    async with anyio.create_task_group() as tg:

        async def worker(number: int) -> None:
            got.append((number, await queue.get()))

        for number in range(3):
            tg.start_soon(worker, number)
            await anyio.wait_all_tasks_blocked()
        for key in ("a", "b", "c"):
            queue.add(key)

    assert got == [(0, "a"), (1, "b"), (2, "c")]


async def test_a_cancelled_waiter_does_not_swallow_the_next_key(queue: Queue[str]) -> None:
    got: list[str] = []
    first_scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:

        async def first() -> None:
            with first_scope:
                got.append(await queue.get())

        async def second() -> None:
            got.append(await queue.get())

        tg.start_soon(first)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        first_scope.cancel()
        await anyio.wait_all_tasks_blocked()
        queue.add("a")

    assert got == ["a"]


async def test_get_nowait_raises_when_nothing_is_ready(queue: Queue[str]) -> None:
    with pytest.raises(QueueEmpty):
        queue.get_nowait()


async def test_get_raises_shutdown_once_shut_down_and_empty(queue: Queue[str]) -> None:
    queue.shut_down()

    with pytest.raises(QueueShutDown):
        await queue.get()


async def test_shut_down_wakes_a_waiting_worker(queue: Queue[str]) -> None:
    outcomes: list[str] = []
    async with anyio.create_task_group() as tg:

        async def worker() -> None:
            try:
                await queue.get()
            except QueueShutDown:
                outcomes.append("shut down")

        tg.start_soon(worker)
        await anyio.wait_all_tasks_blocked()
        queue.shut_down()

    assert outcomes == ["shut down"]


async def test_still_hands_out_queued_keys_after_shut_down(queue: Queue[str]) -> None:
    queue.add("a")
    queue.shut_down()

    assert await queue.get() == "a"


async def test_drops_keys_added_after_shut_down(queue: Queue[str]) -> None:
    queue.shut_down()
    queue.add("a")

    assert len(queue) == 0


async def test_shut_down_with_drain_waits_for_in_flight_keys(queue: Queue[str]) -> None:
    queue.add("a")
    key = await queue.get()
    drained = False
    async with anyio.create_task_group() as tg:

        async def drain() -> None:
            nonlocal drained
            await queue.shut_down_with_drain()
            drained = True

        tg.start_soon(drain)
        await anyio.wait_all_tasks_blocked()
        assert not drained
        queue.done(key)

    assert drained


async def test_shut_down_with_drain_hands_out_a_dirty_key_requeued_by_done(queue: Queue[str]) -> None:
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    async with anyio.create_task_group() as tg:
        tg.start_soon(queue.shut_down_with_drain)
        await anyio.wait_all_tasks_blocked()
        queue.done(key)

        assert await queue.get() == "a"
        queue.done("a")


async def test_shut_down_ends_a_pending_drain(queue: Queue[str]) -> None:
    queue.add("a")
    await queue.get()
    async with anyio.create_task_group() as tg:
        tg.start_soon(queue.shut_down_with_drain)
        await anyio.wait_all_tasks_blocked()
        queue.shut_down()

    assert queue.processing == 1
