"""What a Model's status should say, from its fetch Job and the Job's result.

Conditions: `Ready` (the file is cached and verified), `Progressing` (a download is under way, message with
percent) and `Degraded` (the last attempt failed; reasons SourceNotFound, Unauthorized, ChecksumMismatch,
CacheUnavailable, InvalidGGUF and NetworkError from the fetcher, DeadlineExceeded and FetchFailed when the Job
itself failed). `Degraded` keeps describing the last finished attempt while a retry runs, so a flapping source
stays visible; it turns False only when an attempt succeeds.

A Job whose pod cannot start (controller.builders.download_blockers: Unschedulable, ImagePullBackOff,
VolumeNotBound) is not a download: the Model is Pending, and Ready and Degraded carry the blocker's reason and the
scheduler's or kubelet's message, since someone has to act before any byte can arrive.

A Ready status is sticky: once the reconciler has recorded a result and deleted the Job, later passes see no Job
and no result, and the recorded status stays as it is, as long as it is for the current cache key and checksum.

A result is only as good as its digest: a successful result whose sha256 is not `spec.sha256` is read as a
ChecksumMismatch, whichever Job produced it (one started for an older spec, a fetcher that skipped the check), so
a mismatch never yields a Ready model.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from api.objects import ObjectView
from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.model import DownloadProgress, Model, ModelStatus
from api.v1alpha1.well_known import AS_EXPECTED, DEGRADED, PROGRESSING, READY
from controller.builders.conditions import (
    DesiredCondition,
    Transition,
    apply_conditions,
    find_condition,
    human_size,
)
from controller.builders.download_blockers import BLOCKER_REASONS, DownloadBlocker
from controller.builders.fetch_job import model_cache_key
from controller.builders.fetch_outcome import job_failure, job_finished

WAITING_FOR_JOB = "waiting for the download Job to start"


@attrs.frozen(kw_only=True)
class ModelVerdict:
    phase: str
    conditions: tuple[DesiredCondition, ...]


def is_cached(model: Model) -> bool:
    """The recorded status already describes a Ready file for the current source and checksum: no fetch needed."""
    status = model.status
    if status is None or status.phase != "Ready" or status.cache_key != model_cache_key(model):
        return False
    return model.spec.sha256 is None or model.spec.sha256 == status.sha256


def progress_message(progress: DownloadProgress | None) -> str:
    if progress is None:
        return "downloading"
    if progress.bytes_total:
        percent = 100 * progress.bytes_done // progress.bytes_total
        return f"downloading: {percent}% ({human_size(progress.bytes_done)} of {human_size(progress.bytes_total)})"
    return f"downloading: {human_size(progress.bytes_done)}"


def _failed(reason: str, message: str) -> ModelVerdict:
    return ModelVerdict(
        phase="Failed",
        conditions=(
            DesiredCondition(type=READY, status="False", reason=reason, message=message),
            DesiredCondition(type=PROGRESSING, status="False", reason="AttemptFailed", message=""),
            DesiredCondition(type=DEGRADED, status="True", reason=reason, message=message),
        ),
    )


def _job_failure(job: ObjectView, result_error: str | None) -> ModelVerdict:
    failed = job_failure(job)
    if failed is not None and failed.get("reason") == "DeadlineExceeded":
        return _failed(
            "DeadlineExceeded",
            "the download did not finish within the controller's fetch deadline; check the source's speed "
            "or raise the deadline",
        )
    detail = (
        result_error or (failed or {}).get("message") or "the download Job finished without a readable result"
    )
    return _failed("FetchFailed", f"fetch failed: {detail}")


def _blocked(blocker: DownloadBlocker) -> ModelVerdict:
    return ModelVerdict(
        phase="Pending",
        conditions=(
            DesiredCondition(type=READY, status="False", reason=blocker.reason, message=blocker.message),
            DesiredCondition(
                type=PROGRESSING,
                status="True",
                reason="WaitingForPod",
                message="the download pod has not started",
            ),
            DesiredCondition(type=DEGRADED, status="True", reason=blocker.reason, message=blocker.message),
        ),
    )


def model_verdict(
    *,
    job: ObjectView | None,
    result: FetchResult | None,
    result_error: str | None = None,
    progress: DownloadProgress | None = None,
    blocker: DownloadBlocker | None = None,
    waiting: str = WAITING_FOR_JOB,
) -> ModelVerdict:
    """Phase and conditions from the current cache key's Job and its result (or why it could not be read);
    `blocker` is why the Job's pod cannot start, `waiting` what a Model with no Job yet waits for."""
    if result is not None and result.ok:
        size = human_size(result.size_bytes) if result.size_bytes is not None else "file"
        how = "reused from the cache" if result.reused else "downloaded and verified"
        return ModelVerdict(
            phase="Ready",
            conditions=(
                DesiredCondition(type=READY, status="True", reason="Cached", message=f"{size} {how}"),
                DesiredCondition(type=PROGRESSING, status="False", reason="Complete", message=""),
                DesiredCondition(type=DEGRADED, status="False", reason=AS_EXPECTED, message=""),
            ),
        )
    if result is not None:
        return _failed(result.reason or "FetchFailed", result.message or "fetch failed")
    if job is not None and (job_finished(job) or result_error is not None):
        return _job_failure(job, result_error)
    if job is not None and blocker is not None:
        return _blocked(blocker)
    if job is not None:
        message = progress_message(progress)
        return ModelVerdict(
            phase="Downloading",
            conditions=(
                DesiredCondition(type=READY, status="False", reason="Downloading", message=message),
                DesiredCondition(type=PROGRESSING, status="True", reason="Downloading", message=message),
            ),
        )
    return ModelVerdict(
        phase="Pending",
        conditions=(
            DesiredCondition(type=READY, status="False", reason="Pending", message=waiting),
            DesiredCondition(type=PROGRESSING, status="True", reason="Pending", message=waiting),
        ),
    )


def _unblocked(previous: ModelStatus, verdict: ModelVerdict) -> tuple[DesiredCondition, ...]:
    """`verdict`'s conditions, clearing a Degraded that only said the pod could not start once it can.

    A verdict that leaves Degraded alone keeps the last finished attempt's failure visible; a blocker is not an
    attempt, and would otherwise outlive the pod that was blocked.
    """
    if any(c.type == DEGRADED for c in verdict.conditions):
        return verdict.conditions
    stale = find_condition(previous.conditions, DEGRADED)
    if stale is None or stale.status != "True" or stale.reason not in BLOCKER_REASONS:
        return verdict.conditions
    return (
        *verdict.conditions,
        DesiredCondition(type=DEGRADED, status="False", reason=AS_EXPECTED, message=""),
    )


def verified_result(result: FetchResult | None, *, expected_sha256: str | None) -> FetchResult | None:
    """`result`, or a ChecksumMismatch failure when it reports success for a file that is not the expected one."""
    if result is None or not result.ok or not expected_sha256:
        return result
    if (result.sha256 or "").lower() == expected_sha256.lower():
        return result
    return FetchResult(
        ok=False,
        reason="ChecksumMismatch",
        message=(
            f"the fetched file has sha256 {result.sha256 or 'unknown'}, expected {expected_sha256}: "
            "fix spec.sha256 or the source"
        ),
        cache_key=result.cache_key,
    )


def next_model_status(
    model: Model,
    *,
    job: ObjectView | None,
    result: FetchResult | None,
    result_error: str | None = None,
    progress: DownloadProgress | None = None,
    blocker: DownloadBlocker | None = None,
    waiting: str = WAITING_FOR_JOB,
    now: datetime,
) -> ModelStatus:
    """The status to store for `model`; equal to the stored one when nothing happened, so nothing is written."""
    previous = model.status or ModelStatus()
    generation = model.metadata.generation
    cache_key = model_cache_key(model)
    if result is not None and result.ok and result.cache_key != cache_key:
        result = None  # a result for a source the spec no longer names
    result = verified_result(result, expected_sha256=model.spec.sha256)
    if result is None and is_cached(model):
        # Recorded already; a Job still around (not yet deleted) must not turn it into a failure.
        return attrs.evolve(previous, observed_generation=generation)
    verdict = model_verdict(
        job=job, result=result, result_error=result_error, progress=progress, blocker=blocker, waiting=waiting
    )
    conditions = apply_conditions(
        previous.conditions, _unblocked(previous, verdict), observed_generation=generation, now=now
    )
    if verdict.phase == "Ready" and result is not None:
        return ModelStatus(
            phase="Ready",
            conditions=conditions,
            observed_generation=generation,
            size_bytes=result.size_bytes,
            size=human_size(result.size_bytes) if result.size_bytes is not None else None,
            sha256=result.sha256,
            cache_key=cache_key,
            path=result.path,
            resolved_revision=result.resolved_revision,
            gguf=result.gguf,
        )
    # Not Ready: facts of an older file would mislead, so only the key being fetched and progress remain.
    return ModelStatus(
        phase=verdict.phase,
        conditions=conditions,
        observed_generation=generation,
        cache_key=cache_key,
        progress=progress if verdict.phase == "Downloading" else None,
    )


def failure_status(
    previous: ModelStatus | None,
    *,
    generation: int | None,
    cache_key: str | None,
    reason: str,
    message: str,
    now: datetime,
) -> ModelStatus:
    """Failed for a reason found before any download could run (a missing token Secret, an invalid spec).

    Facts of a previously cached file are dropped: the Model no longer names that file, or cannot be trusted to.
    """
    verdict = _failed(reason, message)
    conditions = apply_conditions(
        (previous or ModelStatus()).conditions, verdict.conditions, observed_generation=generation, now=now
    )
    return ModelStatus(
        phase=verdict.phase, conditions=conditions, observed_generation=generation, cache_key=cache_key
    )


# -- events ---------------------------------------------------------------------------------------------------


def was_ready(status: ModelStatus | None, cache_key: str | None) -> bool:
    """Whether `status` already recorded a Ready file for `cache_key`."""
    return status is not None and status.phase == "Ready" and status.cache_key == cache_key


def _newly_blocked(before: ModelStatus | None, after: ModelStatus) -> Transition | None:
    """A Warning when the download pod became blocked, or blocked for another reason; None otherwise."""
    degraded = find_condition(after.conditions, DEGRADED)
    if after.phase != "Pending" or degraded is None or degraded.reason not in BLOCKER_REASONS:
        return None
    previous = find_condition(before.conditions if before else None, DEGRADED)
    # The scheduler's node counts in the message may change from pass to pass; the cause has not.
    same_cause = previous is not None and previous.reason == degraded.reason
    if before is not None and before.phase == "Pending" and same_cause:
        return None
    return Transition(type="Warning", reason=degraded.reason, message=degraded.message)


def transitions(before: ModelStatus | None, after: ModelStatus) -> list[Transition]:
    """The Events a status change deserves: a file newly cached, a download pod that cannot start, or a new
    failure.

    Only transitions count: a retry that fails the same way again posts nothing new (the recorder would fold
    it into a count anyway, but the status already says it).
    """
    events: list[Transition] = []
    if after.phase == "Ready" and not was_ready(before, after.cache_key):
        ready = find_condition(after.conditions, READY)
        detail = ready.message if ready else "cached"
        events.append(Transition(type="Normal", reason="Downloaded", message=f"{detail} at {after.path}"))
    blocked = _newly_blocked(before, after)
    if blocked is not None:
        events.append(blocked)
    degraded = find_condition(after.conditions, DEGRADED)
    if after.phase != "Failed" or degraded is None:
        return events
    previous = find_condition(before.conditions if before else None, DEGRADED)
    same = previous is not None and (previous.reason, previous.message) == (degraded.reason, degraded.message)
    if before is not None and before.phase == "Failed" and same:
        return events
    message = f"{degraded.reason}: {degraded.message}"
    events.append(Transition(type="Warning", reason="DownloadFailed", message=message))
    return events
