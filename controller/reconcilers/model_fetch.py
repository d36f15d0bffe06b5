"""Reading a download attempt back from the cache: its result, whether it is settled, and when to retry it.

The result travels in the fetch pod's termination message, but the pod and its Job arrive through two different
watches. kube-controller-manager marks the Job finished only after it saw the pod terminate, yet our Job informer
may hear of that before our pod informer hears of the pod's final state. Reading "Job finished, pod still running"
as "finished without a result" would fail a good download, so such an attempt is reported as not settled: the
pod's own event comes next and the reconcile runs again.

Retries double from `initial` up to `maximum` with each failed attempt of the same cache key, counted by the
attempt annotation on the Job (see `fetch_job`), and are timed from when the attempt finished, so a controller
restart neither retries early nor forgets how long it has waited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.model import ModelSource
from controller.builders.fetch_job import (
    FetchResultError,
    fetch_termination_message,
    parse_fetch_result,
)
from controller.builders.model_status import job_finished

Obj = Mapping[str, Any]


@attrs.frozen(kw_only=True)
class FetchOutcome:
    """What the cache says about one download attempt."""

    #: The fetcher's own report, once its container terminated with a readable one.
    result: FetchResult | None = None
    #: Why a terminated attempt left no readable result (a crash, an OOM kill).
    result_error: str | None = None
    #: False while the Job is finished but its pod's terminal state has not reached the cache yet.
    settled: bool = True
    #: When the attempt ended, if it has.
    finished_at: datetime | None = None


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API ("2025-01-02T03:04:05Z"), or None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _terminated(pod: Obj) -> Obj | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is not None:
            found: Obj = terminated
            return found
    return None


def _job_finished_at(job: Obj) -> datetime | None:
    status = job.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return parse_time(status.get("completionTime"))


def newest_pod(pods: Iterable[Obj]) -> Obj | None:
    """The latest pod of a Job (there is one with `backoffLimit: 0`, but a node loss can make another)."""
    ordered = sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))
    return ordered[-1] if ordered else None


def fetch_outcome(job: Obj, pods: Iterable[Obj]) -> FetchOutcome:
    pod = newest_pod(pods)
    message = fetch_termination_message(dict(pod)) if pod is not None else None
    if pod is not None and message is not None:
        finished_at = parse_time((_terminated(pod) or {}).get("finishedAt")) or _job_finished_at(job)
        try:
            return FetchOutcome(result=parse_fetch_result(message), finished_at=finished_at)
        except FetchResultError as err:
            return FetchOutcome(result_error=str(err), finished_at=finished_at)
    if not job_finished(job):
        return FetchOutcome()
    pod_phase = ((pod or {}).get("status") or {}).get("phase")
    if pod is not None and pod_phase not in ("Succeeded", "Failed") and not _deadline_exceeded(job):
        return FetchOutcome(settled=False)
    return FetchOutcome(finished_at=_job_finished_at(job))


def _deadline_exceeded(job: Obj) -> bool:
    """The Job controller killed the pod itself, so its pod may never show a terminated fetch container."""
    return any(
        c.get("type") == "Failed" and c.get("reason") == "DeadlineExceeded"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def download_seconds(job: Obj, outcome: FetchOutcome) -> float | None:
    started = parse_time((job.get("status") or {}).get("startTime"))
    if started is None or outcome.finished_at is None:
        return None
    return (outcome.finished_at - started).total_seconds()


def retry_delay(attempt: int, *, initial: float, maximum: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): initial, 2x, 4x, ... capped at maximum."""
    exponent = min(max(attempt, 1) - 1, 32)  # capped so the float cannot overflow on absurd counts
    return timedelta(seconds=min(maximum, initial * 2.0**exponent))


def waited_delay(since: datetime | None, now: datetime, *, initial: float, maximum: float) -> timedelta:
    """A backoff for failures no Job records (a missing Secret): wait as long again as the failure has lasted.

    Checking again after `elapsed` seconds doubles the interval each time, without a counter to store.
    """
    elapsed = (now - since).total_seconds() if since is not None else 0.0
    return timedelta(seconds=min(maximum, max(initial, elapsed)))


def source_kind(source: ModelSource) -> str:
    """The metrics label for a source: its wire name."""
    if source.hugging_face is not None:
        return "huggingFace"
    if source.pvc is not None:
        return "pvc"
    return "url"
