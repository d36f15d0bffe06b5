from __future__ import annotations

import pytest

from llmkube.fetch.errors import NetworkError, TransientError
from llmkube.fetch.retry import Backoff, with_retries
from tests.unit.fetch.conftest import RecordingSleep


@pytest.mark.parametrize(("failures", "low", "high"), [(1, 0.5, 1.0), (2, 1.0, 2.0), (10, 15.0, 30.0)])
def test_backoff_doubles_up_to_the_cap_with_jitter(failures: int, low: float, high: float) -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0)

    assert backoff.delay(failures, rand=lambda: 0.0) == low
    assert backoff.delay(failures, rand=lambda: 1.0) == high


async def test_failures_that_made_progress_do_not_use_up_the_budget(sleep: RecordingSleep) -> None:
    position = 0

    async def attempt() -> str:
        nonlocal position
        position += 1
        if position < 6:
            raise TransientError("reset")
        return "done"

    result = await with_retries(
        attempt, backoff=Backoff(retries=1), sleep=sleep, what="x", progress=lambda: position
    )

    assert (result, len(sleep.delays)) == ("done", 5)


async def test_gives_up_after_the_budget_and_names_the_last_error(sleep: RecordingSleep) -> None:
    async def attempt() -> None:
        raise TransientError("connection refused")

    with pytest.raises(NetworkError, match="x: gave up after 2 retries, last error: connection refused"):
        await with_retries(attempt, backoff=Backoff(retries=2), sleep=sleep, what="x")
