from __future__ import annotations

import anyio
import pytest

from llmkube.gateway.admission import Gate, QueueFull, QueueTimeout, admitted


def test_requests_are_admitted_up_to_the_capacity() -> None:
    gate = Gate(queue_limit=2, capacity=2)

    tickets = [gate.arrive(), gate.arrive()]

    assert [t.admitted for t in tickets] == [True, True]
    assert gate.in_flight == 2


def test_beyond_the_capacity_requests_wait_in_the_queue() -> None:
    gate = Gate(queue_limit=2, capacity=1)
    gate.arrive()

    waiting = gate.arrive()

    assert not waiting.admitted
    assert gate.waiting == 1


def test_a_full_queue_refuses_at_once() -> None:
    gate = Gate(queue_limit=1, capacity=1)
    gate.arrive()
    gate.arrive()

    with pytest.raises(QueueFull):
        gate.arrive()


def test_a_leaving_request_hands_its_slot_to_the_oldest_waiter() -> None:
    gate = Gate(queue_limit=3, capacity=1)
    running = gate.arrive()
    first, second = gate.arrive(), gate.arrive()

    gate.leave(running)

    assert (first.admitted, second.admitted) == (True, False)
    assert first.admitted_event.is_set()
    assert (gate.in_flight, gate.waiting) == (1, 1)


def test_a_newcomer_never_overtakes_the_queue() -> None:
    gate = Gate(queue_limit=3, capacity=1)
    running = gate.arrive()
    waiter = gate.arrive()
    gate.leave(running)

    newcomer = gate.arrive()

    assert waiter.admitted
    assert not newcomer.admitted


def test_more_capacity_admits_waiters_in_order() -> None:
    gate = Gate(queue_limit=3, capacity=0)
    waiters = [gate.arrive() for _ in range(3)]

    gate.set_capacity(2)

    assert [w.admitted for w in waiters] == [True, True, False]


def test_less_capacity_admits_nobody_until_enough_have_left() -> None:
    gate = Gate(queue_limit=3, capacity=2)
    a, b = gate.arrive(), gate.arrive()
    waiter = gate.arrive()
    gate.set_capacity(1)

    gate.leave(a)
    assert not waiter.admitted
    gate.leave(b)
    assert waiter.admitted


def test_an_abandoned_waiter_leaves_the_queue() -> None:
    gate = Gate(queue_limit=1, capacity=0)
    waiter = gate.arrive()

    gate.abandon(waiter)

    assert gate.waiting == 0
    assert not gate.busy


def test_a_waiter_admitted_as_it_gives_up_returns_its_slot() -> None:
    gate = Gate(queue_limit=1, capacity=0)
    waiter = gate.arrive()
    gate.set_capacity(1)

    gate.abandon(waiter)

    assert gate.in_flight == 0


def test_a_service_with_a_waiter_is_busy_even_with_nothing_in_flight() -> None:
    gate = Gate(queue_limit=1, capacity=0)
    gate.arrive()
    assert gate.busy


async def test_admitted_holds_the_slot_for_the_block_only() -> None:
    gate = Gate(queue_limit=1, capacity=1)

    async with admitted(gate, wait_limit=1.0) as waited:
        assert gate.in_flight == 1

    assert not waited
    assert gate.in_flight == 0


async def test_a_wait_past_its_limit_times_out_and_leaves_the_queue() -> None:
    gate = Gate(queue_limit=1, capacity=0)

    with pytest.raises(QueueTimeout):
        async with admitted(gate, wait_limit=0):
            pass

    assert gate.waiting == 0


async def test_a_waiter_is_admitted_when_a_slot_frees() -> None:
    gate = Gate(queue_limit=1, capacity=1)
    first = gate.arrive()
    entered = anyio.Event()

    async def second() -> None:
        async with admitted(gate, wait_limit=60):
            entered.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert gate.waiting == 1
        gate.leave(first)

    assert entered.is_set()
    assert not gate.busy


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    gate = Gate(queue_limit=1, capacity=0)

    async with anyio.create_task_group() as tg:

        async def wait() -> None:
            async with admitted(gate, wait_limit=60):
                pass

        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()

    assert gate.waiting == 0
