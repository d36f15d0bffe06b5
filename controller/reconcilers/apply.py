"""Write an owned object only when what we want of it changed.

Every object the operator applies carries an annotation with the hash of the exact body last applied. A
reconcile compares the hash of the body it wants now with the one on the cached object: equal means the server
already holds our intent, so nothing is sent. This is what makes a steady-state cluster see zero writes, where
comparing the body itself with the server's copy would be fooled by defaulting and quantity normalisation
("1000m" comes back as "1"). Drift made by someone else under our field manager is corrected on the next change
of our intent, like any server-side apply of unchanged intent would not be noticed either.

Status is written the same way, by server-side apply on the status subresource with our field manager, and only
when the status we computed differs from the cached one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection

from api.objects import Object, annotations_of, status_of
from api.v1alpha1.well_known import APPLIED_HASH_ANNOTATION
from controller.kube import KubeClient, NotFound, Resource


def body_hash(body: Object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def with_applied_hash(desired: Object) -> Object:
    """`desired` with the hash of itself (without the annotation) recorded in an annotation."""
    metadata = dict(desired.get("metadata", {}))
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k != APPLIED_HASH_ANNOTATION
    }
    plain = {
        **desired,
        "metadata": {**metadata, "annotations": annotations} if annotations else _without(metadata),
    }
    metadata["annotations"] = {**annotations, APPLIED_HASH_ANNOTATION: body_hash(plain)}
    return {**desired, "metadata": metadata}


def _without(metadata: Object) -> Object:
    return {k: v for k, v in metadata.items() if k != "annotations"}


def applied_hash(obj: Object | None) -> str | None:
    if obj is None:
        return None
    value = annotations_of(obj).get(APPLIED_HASH_ANNOTATION)
    return value if isinstance(value, str) else None


def needs_apply(desired: Object, current: Object | None) -> bool:
    """True when `current` (from the cache) was not produced by applying exactly `desired`."""
    wanted = applied_hash(with_applied_hash(desired))
    return current is None or applied_hash(current) != wanted


class Applier:
    """Applies owned objects and status under one field manager, skipping writes that would change nothing."""

    def __init__(self, client: KubeClient, *, field_manager: str) -> None:
        self._client = client
        self._field_manager = field_manager

    @property
    def field_manager(self) -> str:
        return self._field_manager

    async def ensure(self, resource: Resource, desired: Object, current: Object | None) -> Object | None:
        """Apply `desired` unless `current` already reflects it; returns the applied object, or None if skipped."""
        if not needs_apply(desired, current):
            return None
        return await self._client.apply(
            resource, with_applied_hash(desired), field_manager=self._field_manager, force=True
        )

    async def hand_over(self, resource: Resource, body: Object, *, field_manager: str) -> Object:
        """Apply `body` under another field manager, so its fields stay owned when ours lets go of them.

        Never forced: when the live value differs from the one in `body` (our cache was behind), the server
        answers Conflict and the reconcile is retried with a fresher copy, instead of writing a stale value.
        """
        return await self._client.apply(resource, body, field_manager=field_manager, force=False)

    async def ensure_absent(
        self, resource: Resource, current: Object | None, *, propagation_policy: str = "Background"
    ) -> bool:
        """Delete `current` if it exists; True when a delete was sent. Already gone is success.

        "Foreground" keeps the object visible, being deleted, until its dependents (a Job's pods) are gone.
        """
        if current is None:
            return False
        metadata = current["metadata"]
        try:
            await self._client.delete(
                resource,
                metadata["name"],
                namespace=metadata.get("namespace"),
                propagation_policy=propagation_policy,
                precondition_uid=metadata.get("uid"),
            )
        except NotFound:
            return False
        return True

    async def ensure_status(
        self, resource: Resource, obj: Object, status: Object, *, foreign: Collection[str] = ()
    ) -> Object | None:
        """Apply `status` to `obj`'s status subresource unless the cached status already equals it.

        `foreign` names top-level status fields another field manager owns (a Model's download progress): they
        are neither sent, which would take them over, nor compared, which would write on every change of theirs.
        """
        status = {k: v for k, v in status.items() if k not in foreign}
        cached = {k: v for k, v in status_of(obj).items() if k not in foreign}
        if cached == status:
            return None
        metadata = obj["metadata"]
        body: Object = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": metadata["name"], "namespace": metadata.get("namespace")},
            "status": status,
        }
        return await self._client.apply_status(resource, body, field_manager=self._field_manager, force=True)
