from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from api.v1alpha1.converter import to_wire
from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.model import DownloadProgress, Model
from controller.builders.conditions import find_condition
from controller.builders.download_blockers import DownloadBlocker
from controller.builders.fetch_job import model_cache_key
from controller.builders.model_status import (
    failure_status,
    is_cached,
    model_verdict,
    next_model_status,
    transitions,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
ACTIVE_JOB: dict[str, Any] = {"status": {"active": 1}}


def failed_job(reason: str) -> dict[str, Any]:
    return {
        "status": {
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": reason, "message": "x"}],
        }
    }


def reasons(verdict: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in verdict.conditions}


def ok_result(model: Model) -> FetchResult:
    key = model_cache_key(model)
    return FetchResult(
        ok=True, cache_key=key, path=f"/models/{key}/model.gguf", sha256="c" * 64, size_bytes=3 << 30
    )


def test_no_job_yet_is_pending() -> None:
    verdict = model_verdict(job=None, result=None)
    assert verdict.phase == "Pending"
    assert reasons(verdict)["Ready"] == ("False", "Pending")


def test_a_running_job_is_downloading_with_percent() -> None:
    verdict = model_verdict(
        job=ACTIVE_JOB, result=None, progress=DownloadProgress(bytes_done=1, bytes_total=4)
    )
    assert verdict.phase == "Downloading"
    progressing = next(c for c in verdict.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "Downloading")
    assert "25%" in progressing.message


def test_a_successful_result_is_ready() -> None:
    verdict = model_verdict(
        job=ACTIVE_JOB, result=FetchResult(ok=True, cache_key="k", path="/p", size_bytes=10)
    )
    assert verdict.phase == "Ready"
    assert reasons(verdict) == {
        "Ready": ("True", "Cached"),
        "Progressing": ("False", "Complete"),
        "Degraded": ("False", "AsExpected"),
    }


def test_a_fetcher_failure_degrades_with_its_reason() -> None:
    for reason in (
        "SourceNotFound",
        "Unauthorized",
        "ChecksumMismatch",
        "CacheUnavailable",
        "InvalidGGUF",
        "NetworkError",
    ):
        verdict = model_verdict(
            job=failed_job("BackoffLimitExceeded"), result=FetchResult(ok=False, reason=reason, message="m")
        )
        assert verdict.phase == "Failed"
        assert reasons(verdict)["Degraded"] == ("True", reason)


def test_a_job_past_its_deadline_fails_with_deadline_exceeded() -> None:
    verdict = model_verdict(job=failed_job("DeadlineExceeded"), result=None)
    assert reasons(verdict)["Degraded"] == ("True", "DeadlineExceeded")


def test_an_unreadable_result_fails_with_fetch_failed() -> None:
    verdict = model_verdict(job=failed_job("BackoffLimitExceeded"), result=None, result_error="not JSON")
    assert reasons(verdict)["Degraded"] == ("True", "FetchFailed")
    assert "not JSON" in verdict.conditions[0].message


def test_a_retry_keeps_the_last_attempts_degraded_condition(hf_model: Model) -> None:
    failed = next_model_status(
        hf_model,
        job=failed_job("BackoffLimitExceeded"),
        result=FetchResult(ok=False, reason="NetworkError", message="reset"),
        now=NOW,
    )
    retrying = next_model_status(attrs.evolve(hf_model, status=failed), job=ACTIVE_JOB, result=None, now=NOW)
    degraded = find_condition(retrying.conditions, "Degraded")
    assert retrying.phase == "Downloading"
    assert degraded is not None
    assert degraded.reason == "NetworkError"


def test_a_ready_status_carries_the_file_facts(hf_model: Model) -> None:
    status = next_model_status(hf_model, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    assert (status.phase, status.size, status.size_bytes) == ("Ready", "3.0 GiB", 3 << 30)
    assert status.cache_key == model_cache_key(hf_model)
    assert status.observed_generation == 1


def test_a_recorded_ready_status_stays_unchanged_after_the_job_is_gone(hf_model: Model) -> None:
    recorded = attrs.evolve(
        hf_model, status=next_model_status(hf_model, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    )
    assert is_cached(recorded)
    again = next_model_status(recorded, job=None, result=None, now=NOW)
    assert to_wire(again) == to_wire(recorded.status)


def test_a_recorded_ready_status_is_not_failed_by_its_finished_job(hf_model: Model) -> None:
    recorded = attrs.evolve(
        hf_model, status=next_model_status(hf_model, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    )
    done = {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    assert next_model_status(recorded, job=done, result=None, now=NOW).phase == "Ready"


def test_a_new_checksum_in_the_spec_invalidates_the_cached_status(hf_model: Model) -> None:
    recorded = attrs.evolve(
        hf_model, status=next_model_status(hf_model, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    )
    changed = attrs.evolve(recorded, spec=attrs.evolve(recorded.spec, sha256="d" * 64))
    assert not is_cached(changed)


def test_a_result_for_another_source_is_ignored(hf_model: Model) -> None:
    stale = attrs.evolve(ok_result(hf_model), cache_key="ffffffffffffffff")
    assert next_model_status(hf_model, job=ACTIVE_JOB, result=stale, now=NOW).phase == "Downloading"


def test_a_failure_before_any_download_drops_the_facts_of_the_old_file(hf_model: Model) -> None:
    previous = next_model_status(hf_model, job=None, result=ok_result(hf_model), now=NOW)
    status = failure_status(
        previous, generation=2, cache_key="k", reason="Unauthorized", message="no Secret", now=NOW
    )
    assert status.phase == "Failed"
    assert status.sha256 is None
    degraded = find_condition(status.conditions, "Degraded")
    assert degraded is not None
    assert (degraded.status, degraded.reason, degraded.observed_generation) == ("True", "Unauthorized", 2)
    ready = find_condition(status.conditions, "Ready")
    assert ready is not None
    assert ready.status == "False"


def test_a_result_whose_digest_is_not_the_specs_fails_with_checksum_mismatch(hf_model: Model) -> None:
    expecting = attrs.evolve(hf_model, spec=attrs.evolve(hf_model.spec, sha256="d" * 64))
    status = next_model_status(expecting, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    assert status.phase == "Failed"
    assert status.sha256 is None
    degraded = find_condition(status.conditions, "Degraded")
    assert degraded is not None
    assert (degraded.status, degraded.reason) == ("True", "ChecksumMismatch")
    assert f"sha256 {'c' * 64}, expected {'d' * 64}" in degraded.message
    ready = find_condition(status.conditions, "Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", "ChecksumMismatch")


def test_a_result_without_a_digest_is_not_ready_when_the_spec_expects_one(hf_model: Model) -> None:
    expecting = attrs.evolve(hf_model, spec=attrs.evolve(hf_model.spec, sha256="d" * 64))
    unhashed = attrs.evolve(ok_result(hf_model), sha256=None)
    assert next_model_status(expecting, job=ACTIVE_JOB, result=unhashed, now=NOW).phase == "Failed"


def test_a_result_with_the_specs_digest_is_ready(hf_model: Model) -> None:
    expecting = attrs.evolve(hf_model, spec=attrs.evolve(hf_model.spec, sha256="c" * 64))
    status = next_model_status(expecting, job=ACTIVE_JOB, result=ok_result(hf_model), now=NOW)
    assert (status.phase, status.sha256) == ("Ready", "c" * 64)


BLOCKER = DownloadBlocker(reason="Unschedulable", message="download pod p cannot be scheduled: 0/4 nodes")


def test_a_job_whose_pod_cannot_start_is_pending_and_degraded_with_the_blockers_reason() -> None:
    verdict = model_verdict(job=ACTIVE_JOB, result=None, blocker=BLOCKER)
    assert verdict.phase == "Pending"
    assert reasons(verdict) == {
        "Ready": ("False", "Unschedulable"),
        "Progressing": ("True", "WaitingForPod"),
        "Degraded": ("True", "Unschedulable"),
    }
    ready = next(c for c in verdict.conditions if c.type == "Ready")
    assert ready.message == BLOCKER.message


def test_a_result_outranks_a_blocker_read_from_a_stale_pod() -> None:
    verdict = model_verdict(
        job=ACTIVE_JOB, result=FetchResult(ok=False, reason="NetworkError"), blocker=BLOCKER
    )
    assert verdict.phase == "Failed"


def blocked_status(model: Model, blocker: DownloadBlocker = BLOCKER) -> Any:
    return next_model_status(model, job=ACTIVE_JOB, result=None, blocker=blocker, now=NOW)


def test_becoming_blocked_posts_one_warning_and_staying_blocked_posts_none(hf_model: Model) -> None:
    first = blocked_status(hf_model)
    [event] = transitions(hf_model.status, first)
    assert (event.type, event.reason, event.message) == ("Warning", "Unschedulable", BLOCKER.message)
    recounted = DownloadBlocker(
        reason="Unschedulable", message="download pod p cannot be scheduled: 0/5 nodes"
    )
    assert transitions(first, blocked_status(attrs.evolve(hf_model, status=first), recounted)) == []


def test_a_blocker_with_another_cause_posts_a_new_warning(hf_model: Model) -> None:
    first = blocked_status(hf_model)
    claim = DownloadBlocker(reason="VolumeNotBound", message="the model cache claim is Pending")
    [event] = transitions(first, blocked_status(attrs.evolve(hf_model, status=first), claim))
    assert event.reason == "VolumeNotBound"


def test_a_pod_that_starts_after_being_blocked_is_downloading_and_no_longer_degraded(hf_model: Model) -> None:
    blocked = attrs.evolve(hf_model, status=blocked_status(hf_model))
    running = next_model_status(
        blocked, job=ACTIVE_JOB, result=None, progress=DownloadProgress(bytes_done=1, bytes_total=4), now=NOW
    )
    assert running.phase == "Downloading"
    degraded = find_condition(running.conditions, "Degraded")
    assert degraded is not None
    assert (degraded.status, degraded.reason) == ("False", "AsExpected")


def test_a_retry_after_a_failure_keeps_the_failure_not_a_blocker(hf_model: Model) -> None:
    failed = next_model_status(
        hf_model,
        job=failed_job("BackoffLimitExceeded"),
        result=FetchResult(ok=False, reason="NetworkError"),
        now=NOW,
    )
    retrying = next_model_status(attrs.evolve(hf_model, status=failed), job=ACTIVE_JOB, result=None, now=NOW)
    degraded = find_condition(retrying.conditions, "Degraded")
    assert degraded is not None
    assert (degraded.status, degraded.reason) == ("True", "NetworkError")
