"""Whether the cluster has converged, judged from the API alone: what each service should own against what exists.

For every InferenceService (not being deleted) whose Model is Ready, the controller must leave exactly one
Deployment and one Service named for it, controlled by this service's uid, each carrying the applied-hash of the
body the builders make from the *current* service and Model (computed here with the same builders, so a child
written for an older spec or an older Model reads as stale). Serving Deployments and Services that no live
service controls (orphans the garbage collector should have removed) are extra.

`served_corruptions` reads each Ready Model's file in the stand-in node's cache and compares its digest with the
sha256 the Model reports: a Model that is Ready on a file whose bytes are not the ones it vouches for (corrupted
on disk, or half written) is a corrupt entry served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import attrs

from api.objects import Object, annotations_of, is_terminating
from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import APPLIED_HASH_ANNOTATION, COMPONENT_LABEL, COMPONENT_SERVER
from controller.builders.deployment import desired_deployment
from controller.builders.service import desired_service
from controller.builders.service_fit import service_fit
from controller.config import ControllerConfig
from controller.reconcilers.apply import applied_hash, with_applied_hash


@attrs.frozen(kw_only=True)
class Verdict:
    #: Services that exist and are not being deleted.
    live: int
    #: Services whose children are all present, controlled by them and current.
    converged: frozenset[str]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    extra: tuple[str, ...]
    #: Services whose Model is not Ready (nothing to compare yet).
    waiting: tuple[str, ...]


def _by_name(objects: Iterable[Object]) -> dict[str, Object]:
    return {obj["metadata"]["name"]: obj for obj in objects}


def _controlled_by(obj: Object, uid: str) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in obj["metadata"].get("ownerReferences") or ()
    )


def _ready(model: Object | None) -> bool:
    return model is not None and (model.get("status") or {}).get("phase") == "Ready"


def _wanted(
    isvc: InferenceService, model: Model, nodes: list[Object], config: ControllerConfig
) -> list[Object]:
    """The bodies the reconciler would apply for `isvc` now (its Deployment, then its Service)."""
    gguf = model.status.gguf if model.status is not None else None
    fit = service_fit(
        spec=isvc.spec,
        model=model.spec,
        gguf=gguf,
        nodes=nodes,
        gpu_memory_overrides=config.gpu_memory_overrides,
    )
    deployment = desired_deployment(
        isvc=isvc, model=model, config=config, chosen_gpus=fit.gpu_count, memory_request=fit.memory_request
    )
    return [body for body in (deployment, desired_service(isvc)) if body is not None]


def judge(
    *,
    services: list[Object],
    models: list[Object],
    deployments: list[Object],
    kube_services: list[Object],
    nodes: list[Object],
    config: ControllerConfig,
) -> Verdict:
    model_by_name = _by_name(models)
    existing = {"Deployment": _by_name(deployments), "Service": _by_name(kube_services)}
    converged: set[str] = set()
    missing: list[str] = []
    stale: list[str] = []
    waiting: list[str] = []
    for obj in services:
        name = obj["metadata"]["name"]
        if is_terminating(obj):
            continue
        raw_model = model_by_name.get(obj["spec"]["modelRef"]["name"])
        if raw_model is None or not _ready(raw_model) or is_terminating(raw_model):
            waiting.append(name)
            continue
        try:
            isvc, model = from_wire(obj, InferenceService), from_wire(raw_model, Model)
        except WireError:
            stale.append(name)
            continue
        ok = True
        for body in _wanted(isvc, model, nodes, config):
            kind, child_name = body["kind"], body["metadata"]["name"]
            current = existing[kind].get(child_name)
            if current is None or not _controlled_by(current, obj["metadata"]["uid"]):
                missing.append(f"{kind} of {name}")
                ok = False
            elif applied_hash(current) != annotations_of(with_applied_hash(body)).get(
                APPLIED_HASH_ANNOTATION
            ):
                stale.append(f"{kind} of {name}")
                ok = False
        if ok:
            converged.add(name)
    live_uids = {obj["metadata"]["uid"] for obj in services if not is_terminating(obj)}
    extra = [
        f"{kind} {child}"
        for kind, objects in existing.items()
        for child, obj in objects.items()
        if obj["metadata"].get("labels", {}).get(COMPONENT_LABEL) == COMPONENT_SERVER
        and not is_terminating(obj)
        and not any(_controlled_by(obj, uid) for uid in live_uids)
    ]
    return Verdict(
        live=len(live_uids),
        converged=frozenset(converged),
        missing=tuple(missing),
        stale=tuple(stale),
        extra=tuple(extra),
        waiting=tuple(waiting),
    )


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(4 * 2**20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def served_corruptions(models: list[Object], cache_dir: Path) -> list[str]:
    """Ready Models whose cached file's digest differs from the sha256 in their status (or that is missing)."""
    bad: list[str] = []
    digests: dict[str, str | None] = {}
    for model in models:
        status = model.get("status") or {}
        if status.get("phase") != "Ready" or is_terminating(model):
            continue
        key = status.get("cacheKey")
        if not isinstance(key, str):
            continue
        if key not in digests:
            digests[key] = file_sha256(cache_dir / key / "model.gguf")
        if digests[key] != status.get("sha256"):
            bad.append(f"{model['metadata']['name']} ({key})")
    return bad
