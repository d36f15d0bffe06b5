from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.v1alpha1.converter import to_wire
from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.gguf import GGUFInfo
from controller.builders.conditions import parse_time
from controller.builders.fetch_outcome import (
    FetchResultError,
    download_seconds,
    fetch_outcome,
    fetch_termination_message,
    parse_fetch_result,
    retry_delay,
    waited_delay,
)

KEY = "0123456789abcdef"

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


OK_RESULT = FetchResult(
    ok=True,
    cache_key=KEY,
    path=f"/models/{KEY}/model.gguf",
    sha256="b" * 64,
    size_bytes=42,
    gguf=GGUFInfo(head_count_kv=8),
)


def test_a_written_result_parses_back_to_the_same_value() -> None:
    assert parse_fetch_result(json.dumps(to_wire(OK_RESULT))) == OK_RESULT


def test_a_result_at_the_end_of_a_log_tail_is_found() -> None:
    event = json.dumps({"ts": 1.0, "event": "progress", "percent": 99})
    tail = f"{event}\nverifying\n{json.dumps(to_wire(OK_RESULT))}\n{event}\n"
    assert parse_fetch_result(tail) == OK_RESULT


@pytest.mark.parametrize(
    "message",
    [
        "",
        "Traceback (most recent call last):\n  boom",
        "[1, 2]",
        '{"ts": 1.0, "event": "progress"}\nKilled',
        '{"reason": "SourceNotFound"}',
        '{"ok": "yes"}',
    ],
)
def test_garbage_termination_messages_are_rejected(message: str) -> None:
    with pytest.raises(FetchResultError):
        parse_fetch_result(message)


def test_a_success_without_a_path_is_rejected() -> None:
    with pytest.raises(FetchResultError, match="cacheKey or path"):
        parse_fetch_result('{"ok": true, "cacheKey": "k"}')


def test_a_failure_needs_a_condition_style_reason() -> None:
    with pytest.raises(FetchResultError, match="CamelCase reason"):
        parse_fetch_result('{"ok": false, "reason": "not found!"}')


def test_termination_message_is_read_from_the_terminated_fetch_container() -> None:
    pod = {"status": {"containerStatuses": [{"name": "fetch", "state": {"terminated": {"message": "{}"}}}]}}
    assert fetch_termination_message(pod) == "{}"


def test_a_running_fetch_container_has_no_termination_message() -> None:
    pod = {"status": {"containerStatuses": [{"name": "fetch", "state": {"running": {}}}]}}
    assert fetch_termination_message(pod) is None
