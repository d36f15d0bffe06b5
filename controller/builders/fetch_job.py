"""The download Job for one (Model, cache key); controller.builders.fetch_outcome reads its result back.

The Job runs `llmkube fetch` from the controller's image with the namespace's cache claim mounted read-write.
The fetcher writes `<cache>/<cacheKey>/model.gguf` atomically, then writes `to_wire(FetchResult)` as JSON to the
container's termination-message file; the reconciler reads it from the terminated pod's status. Consequences:

- One Job per cache key: the name carries the key's first 8 hex chars, so a spec change that names a different
  file gets a new Job while the old one is left for garbage collection with its owner.
- The fetch-intent label carries a hash of everything the fetcher is told (its arguments, among them the
  expected sha256, and its environment, among them the token Secret). A Job whose intent is not the spec's was
  made for an earlier spec of the same file and must not decide the Model's status: the reconciler replaces it
  (`fetch_job_disposition`).
- `backoffLimit: 0`: a failed attempt ends the Job at once, so the reconciler sees the fetcher's reason and owns
  retries (with backoff, and without hammering a source that answered 401). `ttlSecondsAfterFinished` is unset
  so the result stays readable until the reconciler has recorded it and deletes the Job.
- The termination message is at most 4096 bytes; `FallbackToLogsOnError` puts the log tail there when the fetcher
  died before writing it (OOM, a crash), which `parse_fetch_result` (controller.builders.fetch_outcome) reports
  as unreadable.
- A HuggingFace token reaches the fetcher only as `HF_TOKEN` from the referenced Secret, never in args (which
  `kubectl describe` and the audit log show).
- The pod runs as the namespace's `llmkube-fetch` ServiceAccount (see `fetch_rbac`), whose token may only patch
  Model status, so the fetcher can report progress; `POD_NAMESPACE` tells it where its Model lives.
- The attempt number rides on the Job as an annotation: a failed Job is kept until its retry is due, and the
  retry's delay doubles with each attempt, so the count must survive controller restarts without a status field.

The argument contract with `llmkube fetch`: exactly one of `--url U`, `--hf-repo R --hf-file F --revision V` or
`--local-path P`; then `--source-identity I --cache-dir D --cache-key K [--sha256 X] --termination-log F`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from api.objects import ObjectView, annotations_of, is_terminating, labels_of
from api.v1alpha1.fetch_result import cache_key_for
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import (
    CACHE_KEY_LABEL,
    COMPONENT_FETCH,
    FETCH_ATTEMPT_ANNOTATION,
    FETCH_INTENT_LABEL,
)
from controller.builders.labels import (
    dns1035_name,
    model_labels,
    object_meta,
    object_name,
    object_namespace,
)
from controller.builders.security import container_security_context, pod_security_context, scratch_volume
from controller.config import ControllerConfig

CONTAINER_NAME = "fetch"
TERMINATION_LOG = "/dev/termination-log"
SOURCE_MOUNT = "/source"
HF_TOKEN_ENV = "HF_TOKEN"

#: Streaming download and hashing need little memory; the page cache is reclaimable and not counted against it.
FETCH_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def model_cache_key(model: Model) -> str:
    """The cache directory of `model`'s source; equal sources share it."""
    return cache_key_for(model.spec.source.identity())


def fetch_job_name(*, model_name: str, cache_key: str) -> str:
    return dns1035_name(model_name, suffix=f"-fetch-{cache_key[:8]}")


def fetch_args(*, model: Model, cache_key: str, config: ControllerConfig) -> list[str]:
    """`llmkube fetch` arguments for `model`'s source; secrets are never among them."""
    source = model.spec.source
    if source.hugging_face is not None:
        hf = source.hugging_face
        args = ["--hf-repo", hf.repo, "--hf-file", hf.filename, "--revision", hf.revision]
    elif source.url is not None:
        args = ["--url", source.url]
    elif source.pvc is not None:
        args = ["--local-path", f"{SOURCE_MOUNT}/{source.pvc.path.lstrip('/')}"]
    else:
        raise ValueError(f"Model '{object_name(model)}' has no source: set one of huggingFace, url or pvc")
    # The identity is recorded with the cached file; passing it keeps a pvc source's record independent of
    # where the claim happens to be mounted.
    args += ["--source-identity", source.identity()]
    args += ["--cache-dir", config.model_cache_mount_path, "--cache-key", cache_key]
    if model.spec.sha256:
        args += ["--sha256", model.spec.sha256]
    # Progress goes into the Model's status.progress under the Job's own ServiceAccount and field manager.
    args += ["--report-to-model", object_name(model)]
    return [*args, "--termination-log", TERMINATION_LOG]


def _env(model: Model) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "HF_HOME", "value": "/tmp/huggingface"},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    hf = model.spec.source.hugging_face
    if hf is not None and hf.token_secret_ref is not None:
        ref = hf.token_secret_ref
        env.append({"name": HF_TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    return env


def fetch_intent(*, model: Model, cache_key: str, config: ControllerConfig) -> str:
    """16 hex chars naming what a Job for `model` is told to fetch and how; equal specs give equal intents."""
    told = {"args": fetch_args(model=model, cache_key=cache_key, config=config), "env": _env(model)}
    encoded = json.dumps(told, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


#: What the reconciler does with one of a Model's download Jobs; see `fetch_job_disposition`.
JobDisposition = Literal["current", "replaced", "unwanted"]


def fetch_job_disposition(job: ObjectView, *, cache_key: str, intent: str) -> JobDisposition:
    """Whether `job` is the one to follow for a spec with `cache_key` and `intent`.

    - "current": it fetches what the spec asks for, as the spec asks for it: follow it.
    - "replaced": it fetches the same file for an earlier spec (another sha256 or token Secret, or a Job from
      before intents were recorded), or it is already being deleted. Its result says nothing about the spec, and
      its pod may still be writing the cache directory a new Job would use, so it is deleted in the foreground and
      the new Job starts once it is gone.
    - "unwanted": it fetches a file the spec no longer names, into another directory: delete it.
    """
    labels = labels_of(job)
    if labels.get(CACHE_KEY_LABEL) != cache_key:
        return "unwanted"
    if labels.get(FETCH_INTENT_LABEL) != intent or is_terminating(job):
        return "replaced"
    return "current"


def fetch_attempt(job: ObjectView | None) -> int:
    """Which attempt `job` is (1 for the first); 0 when there is no Job. Garbage reads as a first attempt."""
    if job is None:
        return 0
    value = annotations_of(job).get(FETCH_ATTEMPT_ANNOTATION, "1")
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def desired_fetch_job(
    *, model: Model, cache_key: str, config: ControllerConfig, attempt: int = 1
) -> dict[str, Any]:
    """The Job that fetches `model` into `<cache>/<cache_key>/`, owned by the Model; `attempt` counts from 1."""
    name = object_name(model)
    labels = {
        **model_labels(model_name=name, component=COMPONENT_FETCH),
        CACHE_KEY_LABEL: cache_key,
        FETCH_INTENT_LABEL: fetch_intent(model=model, cache_key=cache_key, config=config),
    }
    tmp_volume, tmp_mount = scratch_volume()
    volumes: list[dict[str, Any]] = [
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": config.model_cache_pvc_name}},
        tmp_volume,
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "model-cache", "mountPath": config.model_cache_mount_path},
        tmp_mount,
    ]
    pvc = model.spec.source.pvc
    if pvc is not None:
        volumes.append(
            {"name": "source", "persistentVolumeClaim": {"claimName": pvc.claim_name, "readOnly": True}}
        )
        mounts.append({"name": "source", "mountPath": SOURCE_MOUNT, "readOnly": True})
    container = {
        "name": CONTAINER_NAME,
        "image": config.fetcher_image,
        "command": ["llmkube", "fetch"],
        "args": fetch_args(model=model, cache_key=cache_key, config=config),
        "env": _env(model),
        "resources": FETCH_RESOURCES,
        "securityContext": container_security_context(),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "serviceAccountName": config.fetch_service_account,
        # The token is what lets the fetcher report progress; its Role allows nothing but Model status.
        "automountServiceAccountToken": True,
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    if config.fetch_node_selector:
        pod_spec["nodeSelector"] = dict(config.fetch_node_selector)
    metadata = object_meta(
        name=fetch_job_name(model_name=name, cache_key=cache_key),
        namespace=object_namespace(model),
        labels=labels,
        owner=model,
    )
    metadata["annotations"] = {FETCH_ATTEMPT_ANNOTATION: str(attempt)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": config.fetch_deadline_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
