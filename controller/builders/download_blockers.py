"""What keeps a download pod from starting: its image, its placement, or the cache volume it needs.

A Job that exists is not a download that runs. Until its pod starts, the fetcher cannot report progress, so a
Model that only said "downloading" would say nothing for a whole attempt while the pod waits for a node that
will never come. The scheduler and the kubelet already wrote why into the pod's status; this module reads it
back, with the same reading as the InferenceService side (controller.builders.serving_problems), so one cause
gets one name whichever kind it blocks:

- `ImagePullBackOff`: the kubelet cannot pull the fetcher image (the kubelet's message says why);
- `VolumeNotBound`: the pod is unscheduled and the namespace's cache claim is not Bound, or the Model's own
  `pvc` source claim is missing or not Bound; the fix is the claim (its name, its StorageClass), not the nodes,
  so this is named before the scheduler's own reason (which, for an unbound claim, is often a generic "unbound
  immediate PersistentVolumeClaims" or a scheduler error);
- `Unschedulable`: no node fits the pod (a nodeSelector no node has, no room); the scheduler's message says
  which predicate failed on how many nodes.

A pod that has started (the fetcher reported progress), finished, or is being deleted is blocked by nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from api.objects import ObjectView, is_terminating, metadata, name_of, spec_of, status_of
from controller.builders.serving_problems import pod_problems

IMAGE_PULL = "ImagePullBackOff"
UNSCHEDULABLE = "Unschedulable"
VOLUME_NOT_BOUND = "VolumeNotBound"

#: Every reason a download blocker can carry; each is a Model condition reason.
BLOCKER_REASONS = (IMAGE_PULL, VOLUME_NOT_BOUND, UNSCHEDULABLE)


@attrs.frozen(kw_only=True)
class DownloadBlocker:
    """Why the download pod has not started, with the scheduler's or the kubelet's own words."""

    reason: str
    message: str


def _waiting_pods(pods: Iterable[ObjectView]) -> list[ObjectView]:
    return [
        pod
        for pod in pods
        if not is_terminating(pod) and status_of(pod).get("phase") not in ("Succeeded", "Failed", "Running")
    ]


def _scheduler_refusal(pod: ObjectView) -> str | None:
    """The scheduler's message when it tried to place `pod` and could not (any reason, errors included)."""
    if spec_of(pod).get("nodeName"):
        return None
    for condition in status_of(pod).get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = str(condition.get("reason") or "Unschedulable")
            return str(condition.get("message") or reason)
    return None


@attrs.frozen(kw_only=True)
class SourceClaim:
    """The Model's `pvc` source claim: its name, and the claim as cached (None when it does not exist)."""

    name: str
    claim: ObjectView | None


def _source_claim_problem(source: SourceClaim, refusal: str) -> DownloadBlocker | None:
    if source.claim is None:
        return DownloadBlocker(
            reason=VOLUME_NOT_BOUND,
            message=(
                f"the model source claim '{source.name}' does not exist in this namespace: create it or fix "
                f"spec.source.pvc.claimName; the scheduler says: {refusal}"
            ),
        )
    if status_of(source.claim).get("phase") == "Bound":
        return None
    return _claim_problem(source.claim, refusal, role="model source claim")


def _claim_problem(claim: ObjectView, refusal: str, *, role: str = "model cache claim") -> DownloadBlocker:
    name = name_of(claim) or "?"
    phase = status_of(claim).get("phase") or "Pending"
    storage_class = spec_of(claim).get("storageClassName")
    requested = ((spec_of(claim).get("resources") or {}).get("requests") or {}).get("storage")
    where = f"StorageClass '{storage_class}'" if storage_class else "the cluster's default StorageClass"
    size = f" a {requested} volume" if requested else " a volume"
    return DownloadBlocker(
        reason=VOLUME_NOT_BOUND,
        message=(
            f"the {role} '{name}' is {phase}, not bound: check that {where} exists and can "
            f"provide{size} (kubectl describe pvc {name}); the scheduler says: {refusal}"
        ),
    )


def download_blocker(
    pods: Iterable[ObjectView],
    *,
    cache_claim: ObjectView | None,
    source_claim: SourceClaim | None = None,
    started: bool = False,
) -> DownloadBlocker | None:
    """Why the download pod among `pods` cannot start, or None when nothing blocks it (or it has started).

    `cache_claim` is the namespace's cache claim as cached (None when not seen yet); `source_claim` the Model's
    own `pvc` source claim, for a Model with that source; `started` is true once the fetcher reported progress,
    which only a running pod can do, whatever its pod status says by then.
    """
    if started:
        return None
    waiting = sorted(_waiting_pods(pods), key=lambda p: str(metadata(p).get("creationTimestamp") or ""))
    if not waiting:
        return None
    pod = waiting[-1]
    problems = pod_problems([pod])
    pull = next((p for p in problems if p.reason == IMAGE_PULL), None)
    if pull is not None:
        return DownloadBlocker(reason=IMAGE_PULL, message=pull.message)
    refusal = _scheduler_refusal(pod)
    if refusal is None:
        return None
    if cache_claim is not None and status_of(cache_claim).get("phase") != "Bound":
        return _claim_problem(cache_claim, refusal)
    if source_claim is not None:
        problem = _source_claim_problem(source_claim, refusal)
        if problem is not None:
            return problem
    return DownloadBlocker(
        reason=UNSCHEDULABLE,
        message=f"download pod {name_of(pod) or '?'} cannot be scheduled: {refusal}",
    )
