"""Rate limiters: per-key exponential backoff, the shared token bucket, and their maximum."""

from __future__ import annotations

import anyio
import pytest

from controller.runtime.clock import FakeClock
from controller.runtime.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
)


def test_backoff_doubles_from_5ms_for_each_failure() -> None:
    limiter = ItemExponentialFailureRateLimiter()

    assert [limiter.when("a") for _ in range(5)] == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08])
    assert limiter.num_requeues("a") == 5


def test_backoff_is_capped_at_1000s_from_the_19th_failure() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("a") for _ in range(19)]

    assert delays[17] == pytest.approx(655.36)
    assert delays[18] == 1000.0


def test_backoff_stays_capped_without_overflow_after_many_failures() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    for _ in range(2000):
        delay = limiter.when("a")

    assert delay == 1000.0


def test_forget_restarts_the_backoff() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    limiter.when("a")
    limiter.when("a")
    limiter.forget("a")

    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == pytest.approx(0.005)


def test_backoff_is_counted_per_key() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    limiter.when("a")
    limiter.when("a")

    assert limiter.when("b") == pytest.approx(0.005)


def test_bucket_lets_a_burst_of_100_through_then_spaces_retries_at_10_per_second(clock: FakeClock) -> None:
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    burst = [limiter.when(f"key-{n}") for n in range(100)]

    assert burst == [0.0] * 100
    assert [limiter.when(f"later-{n}") for n in range(3)] == pytest.approx([0.1, 0.2, 0.3])


def test_bucket_refills_with_time(clock: FakeClock) -> None:
    limiter = BucketRateLimiter(qps=10, burst=100, clock=clock)
    for n in range(101):
        limiter.when(f"key-{n}")

    clock.step(0.2)
    assert limiter.when("a") == 0.0


def test_max_of_takes_the_longest_delay_and_records_the_failure_in_every_limiter(clock: FakeClock) -> None:
    per_key = ItemExponentialFailureRateLimiter()
    bucket = BucketRateLimiter(qps=1, burst=1, clock=clock)
    limiter = MaxOfRateLimiter(per_key, bucket)

    assert limiter.when("a") == pytest.approx(0.005)
    assert limiter.when("a") == pytest.approx(1.0)
    assert per_key.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_controller_limiter_backs_off_one_key_from_5ms(clock: FakeClock) -> None:
    limiter = default_controller_rate_limiter(clock=clock)

    assert [limiter.when("a") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])


async def test_add_rate_limited_adds_the_key_after_its_backoff(clock: FakeClock) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(name="test", clock=clock)
    async with anyio.create_task_group() as tg:
        await tg.start(queue.run)
        queue.add_rate_limited("a")
        queue.add_rate_limited("a")  # a second failure asks for 10 ms, but the 5 ms deadline stands

        clock.step(0.004)
        await anyio.wait_all_tasks_blocked()
        assert len(queue) == 0
        clock.step(0.001)
        await anyio.wait_all_tasks_blocked()
        assert len(queue) == 1
        assert queue.num_requeues("a") == 2
        queue.shut_down()


def test_queue_forget_resets_the_keys_backoff(clock: FakeClock) -> None:
    queue: RateLimitingQueue[str] = RateLimitingQueue(name="test", clock=clock)
    queue.add_rate_limited("a")
    queue.forget("a")

    assert queue.num_requeues("a") == 0
    assert queue.rate_limiter.when("a") == pytest.approx(0.005)
