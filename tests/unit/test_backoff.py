"""The shared exponential schedule every retry loop takes its delays from."""

from __future__ import annotations

from controller.backoff import exponential_delay


def test_the_delay_doubles_from_initial_to_the_cap() -> None:
    delays = [exponential_delay(n, initial=0.8, maximum=30.0) for n in range(8)]
    assert delays == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]


def test_a_negative_count_waits_the_initial_delay() -> None:
    assert exponential_delay(-3, initial=5.0, maximum=60.0) == 5.0


def test_a_count_too_large_for_a_float_waits_the_maximum() -> None:
    assert exponential_delay(10_000, initial=0.005, maximum=1000.0) == 1000.0


def test_another_factor_grows_by_that_factor() -> None:
    assert [exponential_delay(n, initial=1.0, maximum=100.0, factor=3.0) for n in range(5)] == [
        1,
        3,
        9,
        27,
        81,
    ]
