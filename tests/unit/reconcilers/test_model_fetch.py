from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.reconcilers.model_fetch import (
    download_seconds,
    fetch_outcome,
    parse_time,
    retry_delay,
    waited_delay,
)

RUNNING_JOB: dict[str, Any] = {"status": {"active": 1, "startTime": "2025-01-01T00:00:00Z"}}
OK = json.dumps({"ok": True, "cacheKey": "k", "path": "/models/k/model.gguf", "sizeBytes": 10})


def finished_job(kind: str, reason: str = "") -> dict[str, Any]:
    condition = {
        "type": kind,
        "status": "True",
        "reason": reason,
        "lastTransitionTime": "2025-01-01T00:01:00Z",
    }
    return {"status": {"startTime": "2025-01-01T00:00:00Z", "conditions": [condition]}}


def pod(phase: str, *, message: str | None = None, created: str = "2025-01-01T00:00:00Z") -> dict[str, Any]:
    state: dict[str, Any] = {"running": {}}
    if message is not None:
        state = {"terminated": {"exitCode": 0, "message": message, "finishedAt": "2025-01-01T00:00:30Z"}}
    return {
        "metadata": {"creationTimestamp": created},
        "status": {"phase": phase, "containerStatuses": [{"name": "fetch", "state": state}]},
    }


def test_a_terminated_fetch_container_gives_its_result_before_the_job_is_marked_done() -> None:
    outcome = fetch_outcome(RUNNING_JOB, [pod("Succeeded", message=OK)])
    assert outcome.result is not None
    assert outcome.result.ok
    assert outcome.finished_at == datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)


def test_an_unreadable_termination_message_is_reported_as_the_error() -> None:
    outcome = fetch_outcome(finished_job("Failed"), [pod("Failed", message="Killed")])
    assert outcome.result is None
    assert outcome.result_error is not None
    assert "not JSON" in outcome.result_error


def test_a_finished_job_whose_pod_looks_running_in_the_cache_is_not_settled() -> None:
    assert not fetch_outcome(finished_job("Complete"), [pod("Running")]).settled


def test_a_job_past_its_deadline_is_settled_although_its_pod_never_terminated() -> None:
    outcome = fetch_outcome(finished_job("Failed", "DeadlineExceeded"), [pod("Running")])
    assert outcome.settled
    assert outcome.finished_at == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)


def test_a_running_job_without_a_terminated_pod_has_no_result_yet() -> None:
    outcome = fetch_outcome(RUNNING_JOB, [pod("Pending")])
    assert outcome.settled
    assert outcome.result is None
    assert outcome.result_error is None


def test_the_newest_pod_speaks_for_the_job() -> None:
    old = pod("Failed", message="Killed", created="2025-01-01T00:00:00Z")
    new = pod("Succeeded", message=OK, created="2025-01-01T00:00:05Z")
    outcome = fetch_outcome(RUNNING_JOB, [new, old])
    assert outcome.result is not None


def test_download_time_runs_from_job_start_to_the_end_of_the_attempt() -> None:
    outcome = fetch_outcome(RUNNING_JOB, [pod("Succeeded", message=OK)])
    assert download_seconds(RUNNING_JOB, outcome) == 30.0


def test_retry_delay_doubles_per_attempt_up_to_the_maximum() -> None:
    delays = [retry_delay(n, initial=30, maximum=600).total_seconds() for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 480, 600, 600]


def test_retry_delay_survives_absurd_attempt_counts() -> None:
    assert retry_delay(10**6, initial=30, maximum=600) == timedelta(seconds=600)


def test_waited_delay_waits_as_long_again_as_the_failure_lasted() -> None:
    now = datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    assert waited_delay(now - timedelta(seconds=5), now, initial=30, maximum=600).total_seconds() == 30
    assert waited_delay(now - timedelta(seconds=90), now, initial=30, maximum=600).total_seconds() == 90
    assert waited_delay(now - timedelta(hours=2), now, initial=30, maximum=600).total_seconds() == 600


def test_parse_time_rejects_garbage_instead_of_raising() -> None:
    assert parse_time("yesterday") is None
    assert parse_time(None) is None
    assert parse_time("2025-01-01T00:00:00Z") == datetime(2025, 1, 1, tzinfo=UTC)
