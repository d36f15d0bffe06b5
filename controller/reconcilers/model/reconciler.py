"""The Model reconciler: one verified copy of each model file in the namespace's cache, and a status that says so.

Each pass reads only the informer caches and walks the same ladder, so any pass can be the first after a restart:

1. The cache claim and the fetcher's identity (ServiceAccount, Role, RoleBinding) exist in the namespace.
2. Jobs of this Model made for an earlier spec are deleted: one for another cache key at once; one for the same
   key but another fetch intent (a new sha256, another token Secret) in the foreground, and no new Job starts
   until it is gone, so its result can never decide the status and two fetchers never write one cache directory.
3. A status that already records a Ready file for the current key is final: it is kept (a restart does not
   download again) and a finished Job still around is deleted now that its result is safely stored.
4. No Job: start a first attempt (no backoff is carried over from an earlier spec), unless the token Secret is
   missing, which fails the Model at once with a message naming the Secret and is checked again with backoff,
   rather than leaving a pod stuck waiting for it.
5. A Job: follow it. While its pod cannot start (unschedulable, image pull, cache claim not bound) the Model is
   Pending with the scheduler's or kubelet's reason (`download_blockers`). A success becomes Ready (the Job is deleted on the next pass, once the cache shows the
   status, so the result cannot be lost between the two writes); a failure becomes Degraded with the fetcher's
   reason, and the failed Job is replaced by a fresh attempt when its backoff expires.

The decisions are pure and live in controller.builders (`model_status` for the status and its Events,
`fetch_job` for the Job, `fetch_outcome` for reading an attempt back and timing its retry); every write goes
through `writes`, which sends nothing when the cache already holds what we want.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import attrs
import structlog

from api.objects import Object, is_terminating, metadata, name_of, namespace_of
from api.v1alpha1.converter import from_wire
from api.v1alpha1.model import Model, ModelStatus
from api.v1alpha1.well_known import DEGRADED
from controller.builders.conditions import find_condition, parse_time
from controller.builders.download_blockers import SourceClaim, download_blocker
from controller.builders.fetch_job import (
    desired_fetch_job,
    fetch_attempt,
    fetch_intent,
    fetch_job_disposition,
    model_cache_key,
)
from controller.builders.fetch_outcome import download_seconds, fetch_outcome, retry_delay, waited_delay
from controller.builders.model_cache import cached_model_path
from controller.builders.model_status import failure_status, is_cached, next_model_status, was_ready
from controller.config import ControllerConfig
from controller.kube import KubeClient, NotFound
from controller.kube.resources import SECRETS
from controller.reconcilers.metrics import DownloadMetrics, source_kind
from controller.reconcilers.model.watch import source_claim_name
from controller.reconcilers.model.writes import ModelCaches, ModelWrites
from controller.runtime.indexer import BY_CONTROLLER_UID
from controller.runtime.request import Request, Result, TerminalError

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ModelReconciler:
    def __init__(
        self,
        *,
        client: KubeClient,
        caches: ModelCaches,
        writes: ModelWrites,
        config: ControllerConfig,
        metrics: DownloadMetrics,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._caches = caches
        self._writes = writes
        self._config = config
        self._metrics = metrics
        self._now = now

    async def reconcile(self, request: Request) -> Result:
        obj = self._caches.models.get_by_name(request.name, request.namespace)
        if obj is None or is_terminating(obj):
            return Result()  # owned Jobs go with the Model by garbage collection
        try:
            model = from_wire(obj, Model)
            cache_key = model_cache_key(model)
            intent = fetch_intent(model=model, cache_key=cache_key, config=self._config)
        except ValueError as err:  # WireError too: a spec the API server's schema should have refused
            await self._reject(obj, str(err))
        await self._writes.ensure_cache_claim(obj, request.namespace)
        job, replaced = await self._current_job(obj, cache_key, intent)
        if is_cached(model):
            await self._writes.write_status(
                obj, next_model_status(model, job=None, result=None, now=self._now())
            )
            await self._writes.delete_job(job)
            return Result()
        if job is None and replaced is not None:
            # Its deletion wakes this Model again (the Job is owned), and the new Job starts then.
            waiting = f"waiting for the previous download Job {name_of(replaced)} to be deleted"
            status = next_model_status(model, job=None, result=None, waiting=waiting, now=self._now())
            await self._writes.write_status(obj, status)
            return Result()
        if job is None:
            return await self._start(obj, model, cache_key, attempt=1)
        return await self._follow(obj, model, cache_key, job)

    # -- the ladder -------------------------------------------------------------------------------------------

    async def _current_job(
        self, obj: Object, cache_key: str, intent: str
    ) -> tuple[Object | None, Object | None]:
        """This Model's Job for the spec, and a Job for the same file from an earlier spec still going away.

        Every other Job of the Model is deleted: see `fetch_job_disposition`.
        """
        current = replaced = None
        for job in self._caches.jobs.by_index(BY_CONTROLLER_UID, obj["metadata"]["uid"]):
            disposition = fetch_job_disposition(job, cache_key=cache_key, intent=intent)
            if disposition == "current" and current is None:
                current = job
            elif disposition == "replaced":
                replaced = job
                if not is_terminating(job):
                    await self._writes.delete_job(job, foreground=True)
            else:
                await self._writes.delete_job(job)
        return current, replaced

    async def _start(self, obj: Object, model: Model, cache_key: str, *, attempt: int) -> Result:
        now = self._now()
        problem = await self._token_problem(model)
        if problem is not None:
            status = failure_status(
                model.status,
                generation=model.metadata.generation,
                cache_key=cache_key,
                reason="Unauthorized",
                message=problem,
                now=now,
            )
            await self._writes.write_status(obj, status)
            await self._writes.announce(obj, model.status, status)
            degraded = find_condition(status.conditions, DEGRADED)
            since = parse_time(degraded.last_transition_time) if degraded else None
            return _after(waited_delay(since, now, **self._backoff()))
        await self._writes.ensure_fetch_rbac(namespace_of(obj))
        desired = desired_fetch_job(model=model, cache_key=cache_key, config=self._config, attempt=attempt)
        job = await self._writes.start_job(desired)
        identity = model.spec.source.identity()
        retry = f" (attempt {attempt})" if attempt > 1 else ""
        await self._writes.event(
            obj, type="Normal", reason="DownloadStarted", message=f"downloading {identity}{retry}"
        )
        await self._writes.write_status(obj, next_model_status(model, job=job, result=None, now=now))
        return Result()

    async def _follow(self, obj: Object, model: Model, cache_key: str, job: Object) -> Result:
        pods = self._caches.pods.by_index(BY_CONTROLLER_UID, job["metadata"]["uid"])
        outcome = fetch_outcome(job, pods)
        if not outcome.settled:
            return Result()  # the pod's final state is on its way through the pod watch
        now = self._now()
        progress = model.status.progress if model.status else None
        claim = self._caches.claims.get_by_name(self._config.model_cache_pvc_name, namespace_of(obj))
        source_name = source_claim_name(obj)
        source = (
            SourceClaim(
                name=source_name,
                claim=self._caches.source_claims.get_by_name(source_name, namespace_of(obj)),
            )
            if source_name
            else None
        )
        status = next_model_status(
            model,
            job=job,
            result=outcome.result,
            result_error=outcome.result_error,
            progress=progress,
            blocker=download_blocker(
                pods, cache_claim=claim, source_claim=source, started=progress is not None
            ),
            now=now,
        )
        if status.phase == "Ready" and status.path is not None:
            # Where serving pods find the file, whatever the fetcher's own mount happened to be.
            status = attrs.evolve(status, path=cached_model_path(self._config, cache_key))
        if status.phase == "Failed":
            attempt = fetch_attempt(job)
            ended = outcome.finished_at or parse_time(metadata(job).get("creationTimestamp")) or now
            due = ended + retry_delay(attempt, **self._backoff())
            if now < due:
                await self._writes.write_status(obj, status)
                await self._writes.announce(obj, model.status, status)
                return _after(due - now)
            await self._writes.announce(obj, model.status, status)
            await self._writes.delete_job(job)
            return await self._start(obj, attrs.evolve(model, status=status), cache_key, attempt=attempt + 1)
        await self._writes.write_status(obj, status)
        await self._writes.announce(obj, model.status, status)
        if status.phase == "Ready" and outcome.result is not None and not was_ready(model.status, cache_key):
            self._metrics.observe(
                job_uid=job["metadata"]["uid"],
                source=source_kind(model.spec.source),
                size_bytes=outcome.result.size_bytes,
                seconds=download_seconds(job, outcome),
                reused=outcome.result.reused,
            )
        return Result()

    async def _reject(self, obj: Object, problem: str) -> NoReturn:
        """Fail a Model whose spec cannot be read; retrying cannot help until the spec changes."""
        meta = metadata(obj)
        try:
            previous = from_wire(obj.get("status") or {}, ModelStatus)
        except ValueError:
            previous = None
        message = f"the spec cannot be used: {problem}; correct the Model's spec"
        status = failure_status(
            previous,
            generation=meta.get("generation"),
            cache_key=None,
            reason="InvalidSpec",
            message=message,
            now=self._now(),
        )
        if await self._writes.write_status(obj, status):
            await self._writes.event(obj, type="Warning", reason="InvalidSpec", message=message)
        raise TerminalError(f"Model {meta.get('namespace')}/{meta.get('name')}: {message}")

    # -- reads ------------------------------------------------------------------------------------------------

    async def _token_problem(self, model: Model) -> str | None:
        """Why the HuggingFace token cannot reach the fetcher, or None when it can (or none is needed)."""
        hf = model.spec.source.hugging_face
        if hf is None or hf.token_secret_ref is None:
            return None
        ref, namespace = hf.token_secret_ref, model.metadata.namespace
        try:
            secret = await self._client.get(SECRETS, ref.name, namespace=namespace)
        except NotFound:
            return (
                f"token Secret '{ref.name}' not found in namespace '{namespace}': create it with the "
                f"HuggingFace token under key '{ref.key}'"
            )
        if ref.key not in (secret.get("data") or {}) and ref.key not in (secret.get("stringData") or {}):
            return f"token Secret '{ref.name}' has no key '{ref.key}': add the HuggingFace token under it"
        return None

    def _backoff(self) -> dict[str, float]:
        return {
            "initial": self._config.fetch_retry_initial_seconds,
            "maximum": self._config.fetch_retry_max_seconds,
        }


def _after(delay: timedelta) -> Result:
    return Result(requeue_after=max(delay.total_seconds(), 0.1))
