"""Reading a download attempt back from the cache: its result, whether it is settled, and when to retry it.

The fetcher writes `to_wire(FetchResult)` as JSON to its container's termination-message file (see
`fetch_job`); `parse_fetch_result` reads it back and refuses anything that is not a result, since the log tail
lands there instead when the fetcher died before writing it.

The result travels in the fetch pod's status, but the pod and its Job arrive through two different watches.
kube-controller-manager marks the Job finished only after it saw the pod terminate, yet our Job informer may hear
of that before our pod informer hears of the pod's final state. Reading "Job finished, pod still running" as
"finished without a result" would fail a good download, so such an attempt is reported as not settled: the pod's
own event comes next and the reconcile runs again.

Retries double from `initial` up to `maximum` with each failed attempt of the same cache key, counted by the
attempt annotation on the Job (see `fetch_job`), and are timed from when the attempt finished, so a controller
restart neither retries early nor forgets how long it has waited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from api.objects import ObjectView, metadata, status_of
from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.fetch_result import FetchResult
from controller.backoff import exponential_delay
from controller.builders.conditions import parse_time
from controller.builders.fetch_job import CONTAINER_NAME

#: A failure reason becomes a condition reason, so it must fit metav1.Condition's pattern.
_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


class FetchResultError(ValueError):
    """A termination message that is not a fetch result."""


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


def _terminated(pod: ObjectView) -> ObjectView | None:
    for status in status_of(pod).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is not None:
            found: ObjectView = terminated
            return found
    return None


def _job_finished_at(job: ObjectView) -> datetime | None:
    status = status_of(job)
    for condition in status.get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return parse_time(status.get("completionTime"))


def newest_pod(pods: Iterable[ObjectView]) -> ObjectView | None:
    """The latest pod of a Job (there is one with `backoffLimit: 0`, but a node loss can make another)."""
    ordered = sorted(pods, key=lambda p: str(metadata(p).get("creationTimestamp") or ""))
    return ordered[-1] if ordered else None


def _result_json(message: str) -> Any:
    try:
        return json.loads(message)
    except json.JSONDecodeError:
        pass
    # Log tail (FallbackToLogsOnError): the fetcher prints its result on stdout too, after its JSON log events.
    for line in reversed(message.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "ok" in data:
            return data
    raise FetchResultError(f"fetch result is not JSON: {message[:200]!r}")


def parse_fetch_result(termination_message: str) -> FetchResult:
    """The FetchResult in a fetch container's termination message; raises FetchResultError for anything else."""
    if not termination_message.strip():
        raise FetchResultError("fetch container left no termination message (did it run to completion?)")
    data = _result_json(termination_message)
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
        raise FetchResultError(
            f"fetch result must be a JSON object with a boolean 'ok': {termination_message[:200]!r}"
        )
    try:
        result = from_wire(data, FetchResult)
    except WireError as exc:
        raise FetchResultError(str(exc)) from exc
    if result.ok and not (result.cache_key and result.path):
        raise FetchResultError("successful fetch result lacks cacheKey or path")
    if not result.ok and not (result.reason and _REASON.match(result.reason)):
        raise FetchResultError(f"failed fetch result needs a CamelCase reason, got {result.reason!r}")
    return result


def fetch_termination_message(pod: ObjectView) -> str | None:
    """The fetch container's termination message in a pod (JSON dict), or None while it has not terminated."""
    for status in status_of(pod).get("containerStatuses") or ():
        if status.get("name") != CONTAINER_NAME:
            continue
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is not None:
            return str(terminated.get("message") or "")
    return None


def _job_condition(job: ObjectView, kind: str) -> ObjectView | None:
    for condition in status_of(job).get("conditions") or ():
        if condition.get("type") == kind and condition.get("status") == "True":
            found: ObjectView = condition
            return found
    return None


def job_finished(job: ObjectView) -> bool:
    return _job_condition(job, "Complete") is not None or _job_condition(job, "Failed") is not None


def job_failure(job: ObjectView) -> ObjectView | None:
    """The Job's Failed condition, when the Job controller gave up on it."""
    return _job_condition(job, "Failed")


def fetch_outcome(job: ObjectView, pods: Iterable[ObjectView]) -> FetchOutcome:
    pod = newest_pod(pods)
    message = fetch_termination_message(pod) if pod is not None else None
    if pod is not None and message is not None:
        finished_at = parse_time((_terminated(pod) or {}).get("finishedAt")) or _job_finished_at(job)
        try:
            return FetchOutcome(result=parse_fetch_result(message), finished_at=finished_at)
        except FetchResultError as err:
            return FetchOutcome(result_error=str(err), finished_at=finished_at)
    if not job_finished(job):
        return FetchOutcome()
    pod_phase = status_of(pod).get("phase")
    if pod is not None and pod_phase not in ("Succeeded", "Failed") and not _deadline_exceeded(job):
        return FetchOutcome(settled=False)
    return FetchOutcome(finished_at=_job_finished_at(job))


def _deadline_exceeded(job: ObjectView) -> bool:
    """The Job controller killed the pod itself, so its pod may never show a terminated fetch container."""
    return any(
        c.get("type") == "Failed" and c.get("reason") == "DeadlineExceeded"
        for c in status_of(job).get("conditions") or ()
    )


def download_seconds(job: ObjectView, outcome: FetchOutcome) -> float | None:
    started = parse_time(status_of(job).get("startTime"))
    if started is None or outcome.finished_at is None:
        return None
    return (outcome.finished_at - started).total_seconds()


def retry_delay(attempt: int, *, initial: float, maximum: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): initial, 2x, 4x, ... capped at maximum."""
    return timedelta(seconds=exponential_delay(attempt - 1, initial=initial, maximum=maximum))


def waited_delay(since: datetime | None, now: datetime, *, initial: float, maximum: float) -> timedelta:
    """A backoff for failures no Job records (a missing Secret): wait as long again as the failure has lasted.

    Checking again after `elapsed` seconds doubles the interval each time, without a counter to store.
    """
    elapsed = (now - since).total_seconds() if since is not None else 0.0
    return timedelta(seconds=min(maximum, max(initial, elapsed)))
