"""The one exponential backoff schedule: `initial`, doubling with each failure, capped at `maximum`.

Five retry loops in LLMKube back off exponentially, and all of them take their delay from `exponential_delay`:

- the work-queue's per-key rate limiter (controller.runtime.workqueue.rate_limiters): 5 ms .. 1000 s per key;
- the reflector's and the host agent's reconnect and restart pacing (controller.runtime.backoff): 0.8 s .. 30 s
  and 1 s .. 60 s;
- a Model's download retries (controller.builders.fetch_outcome): 30 s .. 600 s per failed attempt;
- the fetcher's retries of a flaky source (llmkube.fetch.retry): 1 s .. 30 s.

They agree on the schedule and on nothing else, on purpose, so each keeps its own state and jitter:

- The work-queue mirrors client-go: no jitter, a counter per key, forgotten when the key succeeds.
- The reflector and the agent add up to +100% (+20% for the agent) of jitter, never past the cap, so a fleet
  restarted together does not reconnect in lockstep; one stream's failures count, and a healthy spell resets them.
- A Model's retries have no jitter and no in-memory state: the attempt number rides on the download Job and the
  wait is timed from when the attempt finished, so a restarted controller computes the same due time.
- The fetcher uses equal jitter (half to all of the delay, never zero, since a server that just reset us deserves
  a breather) and counts only failures that made no progress.

A sixth wait, for a missing token Secret (`waited_delay`), has no counter to double and waits as long again as
the failure has lasted; it stays apart too.
"""

from __future__ import annotations


def exponential_delay(failures: int, *, initial: float, maximum: float, factor: float = 2.0) -> float:
    """Seconds to wait after `failures` earlier failures: `initial * factor**failures`, at most `maximum`.

    `failures` counts from 0 (the first retry waits `initial`); negative counts read as 0. Counts so large that
    the power overflows a float simply get `maximum`.
    """
    try:
        return min(initial * factor ** max(failures, 0), maximum)
    except OverflowError:
        return maximum
