"""Download progress: counted by the writer, reported on a timer to a pluggable async callback.

The timer runs as its own task beside the download so that a stalled connection still reports (a flat rate is
exactly what an operator watching `kubectl get model` needs to see); the callback is where the Model status
patcher plugs in, the default writes JSON log lines.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import attrs

from llmkube.fetch.log import log_event
from llmkube.fetch.retry import Sleep


@attrs.frozen(kw_only=True)
class Progress:
    bytes_done: int
    bytes_total: int | None
    bytes_per_second: float
    done: bool = False

    @property
    def percent(self) -> float | None:
        if not self.bytes_total:
            return None
        return round(100.0 * self.bytes_done / self.bytes_total, 1)


ProgressCallback = Callable[[Progress], Awaitable[None]]


async def log_progress(progress: Progress) -> None:
    log_event(
        "progress",
        bytesDone=progress.bytes_done,
        bytesTotal=progress.bytes_total,
        percent=progress.percent,
        bytesPerSecond=round(progress.bytes_per_second),
        done=progress.done,
    )


class ProgressMeter:
    """Counts bytes as they land and turns the count into rate-bearing reports.

    Invariant: `_reported_bytes`/`_reported_at` describe the last report, so each rate covers exactly the
    interval since the previous one (a long-run average would hide a stall).
    """

    def __init__(
        self,
        *,
        callback: ProgressCallback,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callback = callback
        self._interval_s = interval_s
        self._clock = clock
        self.bytes_done = 0
        self.bytes_total: int | None = None
        self._reported_bytes = 0
        self._reported_at = clock()

    def set_done(self, bytes_done: int) -> None:
        self.bytes_done = bytes_done

    def set_total(self, bytes_total: int | None) -> None:
        self.bytes_total = bytes_total

    async def report(self, *, done: bool = False) -> None:
        now = self._clock()
        elapsed = now - self._reported_at
        moved = max(self.bytes_done - self._reported_bytes, 0)
        rate = moved / elapsed if elapsed > 0 else 0.0
        self._reported_bytes, self._reported_at = self.bytes_done, now
        await self._callback(
            Progress(
                bytes_done=self.bytes_done, bytes_total=self.bytes_total, bytes_per_second=rate, done=done
            )
        )

    async def report_periodically(self, sleep: Sleep) -> None:
        """Report every interval until cancelled; the owner cancels it when the download ends.

        Ticks keep their schedule however long a report takes (a slow status write must not space out the
        progress log lines); a tick that comes due while a report still runs fires as soon as it ends.
        """
        due = self._clock() + self._interval_s
        while True:
            await sleep(max(due - self._clock(), 0.0))
            await self.report()
            due = max(due + self._interval_s, self._clock())
