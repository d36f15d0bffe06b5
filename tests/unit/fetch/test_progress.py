from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.lowlevel
import pytest

from llmkube.fetch.progress import Progress, ProgressMeter


class Stop(Exception):
    pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Collected:
    def __init__(self) -> None:
        self.reports: list[Progress] = []

    async def __call__(self, progress: Progress) -> None:
        self.reports.append(progress)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def meter(clock: FakeClock, collected: Collected) -> ProgressMeter:
    return ProgressMeter(callback=collected, interval_s=5.0, clock=clock)


async def test_reports_bytes_total_and_the_rate_since_the_last_report(
    meter: ProgressMeter, clock: FakeClock, collected: Collected
) -> None:
    meter.set_total(1000)
    meter.set_done(100)
    clock.now += 5
    await meter.report()
    meter.set_done(600)
    clock.now += 5
    await meter.report()

    assert [(p.bytes_done, p.bytes_per_second, p.percent) for p in collected.reports] == [
        (100, 20.0, 10.0),
        (600, 100.0, 60.0),
    ]


async def test_a_stalled_download_still_reports_at_zero_rate(
    meter: ProgressMeter, clock: FakeClock, collected: Collected
) -> None:
    async def sleep(seconds: float) -> None:
        if len(collected.reports) == 3:
            raise Stop
        clock.now += seconds
        await anyio.lowlevel.checkpoint()

    meter.set_done(50)
    with pytest.raises(Stop):
        await meter.report_periodically(sleep)

    assert [p.bytes_per_second for p in collected.reports] == [10.0, 0.0, 0.0]


def test_percent_is_unknown_without_a_total() -> None:
    assert Progress(bytes_done=5, bytes_total=None, bytes_per_second=0.0).percent is None


def sleep_for_three_ticks(clock: FakeClock, ticks: list[float]) -> Callable[[float], Awaitable[None]]:
    """A sleep that advances the fake clock, and stops the reporting loop once three ticks were seen."""

    async def sleep(seconds: float) -> None:
        if len(ticks) == 3:
            raise Stop
        clock.now += seconds
        await anyio.lowlevel.checkpoint()

    return sleep


async def test_a_slow_report_does_not_space_out_the_next_ticks(clock: FakeClock) -> None:
    ticks: list[float] = []

    async def slow_callback(progress: Progress) -> None:
        ticks.append(clock.now)
        clock.now += 3.0  # a status write that takes most of the interval

    meter = ProgressMeter(callback=slow_callback, interval_s=5.0, clock=clock)
    with pytest.raises(Stop):
        await meter.report_periodically(sleep_for_three_ticks(clock, ticks))

    assert ticks == [105.0, 110.0, 115.0]


async def test_a_tick_that_came_due_during_a_report_fires_when_it_ends(clock: FakeClock) -> None:
    ticks: list[float] = []

    async def stuck_callback(progress: Progress) -> None:
        ticks.append(clock.now)
        clock.now += 7.0 if len(ticks) == 1 else 0.0

    meter = ProgressMeter(callback=stuck_callback, interval_s=5.0, clock=clock)
    with pytest.raises(Stop):
        await meter.report_periodically(sleep_for_three_ticks(clock, ticks))

    assert ticks == [105.0, 112.0, 117.0]
