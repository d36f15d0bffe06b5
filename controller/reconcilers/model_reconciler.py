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
5. A Job: follow it. A success becomes Ready (the Job is deleted on the next pass, once the cache shows the
   status, so the result cannot be lost between the two writes); a failure becomes Degraded with the fetcher's
   reason, and the failed Job is replaced by a fresh attempt when its backoff expires.

Every write goes through the Applier, which sends nothing when the cache already holds what we want, so a
steady cluster sees no writes. Status fields the fetcher owns (`progress`) are never applied by us.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import attrs
import structlog

from api.v1alpha1.converter import from_wire, to_wire
from api.v1alpha1.model import CacheSpec, Model, ModelStatus
from api.v1alpha1.well_known import DEGRADED, READY
from controller.builders.conditions import find_condition
from controller.builders.fetch_job import (
    desired_fetch_job,
    fetch_attempt,
    fetch_intent,
    fetch_job_disposition,
    model_cache_key,
)
from controller.builders.fetch_rbac import desired_fetch_rbac
from controller.builders.model_cache import (
    cached_model_path,
    desired_cache_claim,
    grown_claim,
    quantity_value,
)
from controller.builders.model_status import failure_status, is_cached, next_model_status
from controller.config import ControllerConfig
from controller.kube import EventRecorder, Forbidden, Invalid, KubeClient, NotFound
from controller.kube.resources import (
    JOBS,
    MODELS,
    PERSISTENT_VOLUME_CLAIMS,
    ROLE_BINDINGS,
    ROLES,
    SECRETS,
    SERVICE_ACCOUNTS,
    Resource,
)
from controller.reconcilers.apply import Applier
from controller.reconcilers.metrics import DownloadMetrics
from controller.reconcilers.model_fetch import (
    download_seconds,
    fetch_outcome,
    parse_time,
    retry_delay,
    source_kind,
    waited_delay,
)
from controller.runtime.indexer import BY_CONTROLLER_UID
from controller.runtime.request import Request, Result, TerminalError
from controller.runtime.store import Store

log = structlog.get_logger(__name__)

#: Status fields written by the fetcher under its own field manager.
FETCHER_STATUS_FIELDS = ("progress",)

Obj = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class ModelCaches:
    """The informer stores the reconciler reads; jobs, pods and fetch RBAC are label-selected to ours."""

    models: Store
    jobs: Store
    pods: Store
    claims: Store
    service_accounts: Store
    roles: Store
    role_bindings: Store


class ModelReconciler:
    def __init__(
        self,
        *,
        client: KubeClient,
        caches: ModelCaches,
        config: ControllerConfig,
        recorder: EventRecorder,
        metrics: DownloadMetrics,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._caches = caches
        self._config = config
        self._recorder = recorder
        self._metrics = metrics
        self._now = now
        self._apply = Applier(client, field_manager=config.field_manager)

    async def reconcile(self, request: Request) -> Result:
        obj = self._caches.models.get_by_name(request.name, request.namespace)
        if obj is None or obj.get("metadata", {}).get("deletionTimestamp"):
            return Result()  # owned Jobs go with the Model by garbage collection
        try:
            model = from_wire(obj, Model)
            cache_key = model_cache_key(model)
            intent = fetch_intent(model=model, cache_key=cache_key, config=self._config)
        except ValueError as err:  # WireError too: a spec the API server's schema should have refused
            await self._reject(obj, str(err))
        await self._ensure_cache_claim(obj, request.namespace)
        job, replaced = await self._current_job(obj, cache_key, intent)
        if is_cached(model):
            await self._write_status(obj, next_model_status(model, job=None, result=None, now=self._now()))
            await self._apply.ensure_absent(JOBS, job)
            return Result()
        if job is None and replaced is not None:
            # Its deletion wakes this Model again (the Job is owned), and the new Job starts then.
            waiting = f"waiting for the previous download Job {replaced['metadata']['name']} to be deleted"
            status = next_model_status(model, job=None, result=None, waiting=waiting, now=self._now())
            await self._write_status(obj, status)
            return Result()
        if job is None:
            return await self._start(obj, model, cache_key, attempt=1)
        return await self._follow(obj, model, cache_key, job)

    # -- the ladder -------------------------------------------------------------------------------------------

    async def _current_job(self, obj: Obj, cache_key: str, intent: str) -> tuple[Obj | None, Obj | None]:
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
                if not job["metadata"].get("deletionTimestamp"):
                    await self._apply.ensure_absent(JOBS, job, propagation_policy="Foreground")
            else:
                await self._apply.ensure_absent(JOBS, job)
        return current, replaced

    async def _start(self, obj: Obj, model: Model, cache_key: str, *, attempt: int) -> Result:
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
            await self._write_status(obj, status)
            await self._announce(obj, model.status, status)
            degraded = find_condition(status.conditions, DEGRADED)
            since = parse_time(degraded.last_transition_time) if degraded else None
            return _after(waited_delay(since, now, **self._backoff()))
        await self._ensure_fetch_rbac(obj["metadata"]["namespace"])
        desired = desired_fetch_job(model=model, cache_key=cache_key, config=self._config, attempt=attempt)
        job = await self._apply.ensure(JOBS, desired, None) or desired
        identity = model.spec.source.identity()
        retry = f" (attempt {attempt})" if attempt > 1 else ""
        await self._recorder.record(
            obj, type="Normal", reason="DownloadStarted", message=f"downloading {identity}{retry}"
        )
        await self._write_status(obj, next_model_status(model, job=job, result=None, now=now))
        return Result()

    async def _follow(self, obj: Obj, model: Model, cache_key: str, job: Obj) -> Result:
        outcome = fetch_outcome(job, self._caches.pods.by_index(BY_CONTROLLER_UID, job["metadata"]["uid"]))
        if not outcome.settled:
            return Result()  # the pod's final state is on its way through the pod watch
        now = self._now()
        status = next_model_status(
            model,
            job=job,
            result=outcome.result,
            result_error=outcome.result_error,
            progress=model.status.progress if model.status else None,
            now=now,
        )
        if status.phase == "Ready" and status.path is not None:
            # Where serving pods find the file, whatever the fetcher's own mount happened to be.
            status = attrs.evolve(status, path=cached_model_path(self._config, cache_key))
        if status.phase == "Failed":
            attempt = fetch_attempt(job)
            ended = outcome.finished_at or parse_time(job["metadata"].get("creationTimestamp")) or now
            due = ended + retry_delay(attempt, **self._backoff())
            if now < due:
                await self._write_status(obj, status)
                await self._announce(obj, model.status, status)
                return _after(due - now)
            await self._announce(obj, model.status, status)
            await self._apply.ensure_absent(JOBS, job)
            return await self._start(obj, attrs.evolve(model, status=status), cache_key, attempt=attempt + 1)
        await self._write_status(obj, status)
        await self._announce(obj, model.status, status)
        if status.phase == "Ready" and outcome.result is not None and not _was_ready(model.status, cache_key):
            self._metrics.observe(
                job_uid=job["metadata"]["uid"],
                source=source_kind(model.spec.source),
                size_bytes=outcome.result.size_bytes,
                seconds=download_seconds(job, outcome),
                reused=outcome.result.reused,
            )
        return Result()

    async def _reject(self, obj: Obj, problem: str) -> NoReturn:
        """Fail a Model whose spec cannot be read; retrying cannot help until the spec changes."""
        meta = obj.get("metadata", {})
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
        if await self._write_status(obj, status):
            await self._recorder.record(obj, type="Warning", reason="InvalidSpec", message=message)
        raise TerminalError(f"Model {meta.get('namespace')}/{meta.get('name')}: {message}")

    # -- namespace-wide objects -------------------------------------------------------------------------------

    async def _ensure_cache_claim(self, obj: Obj, namespace: str) -> None:
        overrides = [_cache_override(m) for m in sorted(self._caches.models.list(namespace), key=_name)]
        desired = desired_cache_claim(namespace=namespace, config=self._config, overrides=overrides)
        current = self._caches.claims.get_by_name(self._config.model_cache_pvc_name, namespace)
        if current is not None:
            desired = grown_claim(desired, current)
        try:
            await self._apply.ensure(PERSISTENT_VOLUME_CLAIMS, desired, current)
        except (Forbidden, Invalid) as err:
            # A claim whose class cannot expand still serves every model that fits; say so, don't stop.
            await self._recorder.record(
                obj, type="Warning", reason="CacheResizeFailed", message=f"cache claim not resized: {err}"
            )

    async def _ensure_fetch_rbac(self, namespace: str) -> None:
        stores: dict[str, tuple[Resource, Store]] = {
            "ServiceAccount": (SERVICE_ACCOUNTS, self._caches.service_accounts),
            "Role": (ROLES, self._caches.roles),
            "RoleBinding": (ROLE_BINDINGS, self._caches.role_bindings),
        }
        for desired in desired_fetch_rbac(namespace=namespace, config=self._config):
            resource, store = stores[desired["kind"]]
            await self._apply.ensure(
                resource, desired, store.get_by_name(desired["metadata"]["name"], namespace)
            )

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

    # -- status and events ------------------------------------------------------------------------------------

    async def _write_status(self, obj: Obj, status: ModelStatus) -> bool:
        """Apply `status` if it differs from the cached one; True when something was written.

        Progress belongs to the fetcher's field manager, so only a plain patch can clear it once the download is
        over. It is cleared before the new phase is written, so nobody sees a Ready model with progress. Our
        cache may not show the fetcher's last report yet, so any change of phase clears it too, not only a
        cached progress: one extra write per transition, none at steady state.
        """
        cached = obj.get("status") or {}
        cleared = False
        if status.phase != "Downloading" and (
            cached.get("progress") is not None or cached.get("phase") != status.phase
        ):
            meta = obj["metadata"]
            await self._client.patch_status(
                MODELS, meta["name"], {"status": {"progress": None}}, namespace=meta["namespace"]
            )
            cleared = cached.get("progress") is not None
        written = await self._apply.ensure_status(MODELS, obj, to_wire(status), foreign=FETCHER_STATUS_FIELDS)
        return cleared or written is not None

    async def _announce(self, obj: Obj, before: ModelStatus | None, after: ModelStatus) -> None:
        """Events for transitions only; the recorder folds repeats of one failure into a count."""
        if after.phase == "Ready" and not _was_ready(before, after.cache_key):
            ready = find_condition(after.conditions, READY)
            detail = ready.message if ready else "cached"
            await self._recorder.record(
                obj, type="Normal", reason="Downloaded", message=f"{detail} at {after.path}"
            )
        degraded = find_condition(after.conditions, DEGRADED)
        if after.phase != "Failed" or degraded is None:
            return
        previous = find_condition(before.conditions if before else None, DEGRADED)
        same = previous is not None and (previous.reason, previous.message) == (
            degraded.reason,
            degraded.message,
        )
        if before is not None and before.phase == "Failed" and same:
            return
        await self._recorder.record(
            obj, type="Warning", reason="DownloadFailed", message=f"{degraded.reason}: {degraded.message}"
        )

    def _backoff(self) -> dict[str, float]:
        return {
            "initial": self._config.fetch_retry_initial_seconds,
            "maximum": self._config.fetch_retry_max_seconds,
        }


def _after(delay: timedelta) -> Result:
    return Result(requeue_after=max(delay.total_seconds(), 0.1))


def _was_ready(status: ModelStatus | None, cache_key: str | None) -> bool:
    return status is not None and status.phase == "Ready" and status.cache_key == cache_key


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _cache_override(obj: Obj) -> CacheSpec | None:
    """A Model's cache override; one that cannot be read counts as none rather than failing its neighbours."""
    raw = (obj.get("spec") or {}).get("cache")
    if not raw:
        return None
    try:
        override = from_wire(raw, CacheSpec)
        if override.size:
            quantity_value(override.size)
    except ValueError:
        return None
    return override
