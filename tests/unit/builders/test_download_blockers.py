"""Why a download pod cannot start, read from the pod and the cache claim as the scheduler and kubelet left them."""

from __future__ import annotations

from typing import Any

from controller.builders.download_blockers import SourceClaim, download_blocker

SELECTOR_MISS = "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."
BOUND_CLAIM: dict[str, Any] = {"metadata": {"name": "llmkube-model-cache"}, "status": {"phase": "Bound"}}


def unscheduled_pod(
    message: str = SELECTOR_MISS, *, reason: str = "Unschedulable", **extra: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": "tiny-fetch-0123abcd-x7", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": reason, "message": message}],
            **extra,
        },
    }


def pending_claim(storage_class: str | None = "does-not-exist") -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": "100Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": "llmkube-model-cache"}, "spec": spec, "status": {"phase": "Pending"}}


def test_a_pod_no_node_fits_is_unschedulable_with_the_schedulers_message() -> None:
    blocker = download_blocker([unscheduled_pod()], cache_claim=BOUND_CLAIM)
    assert blocker is not None
    assert blocker.reason == "Unschedulable"
    assert SELECTOR_MISS in blocker.message
    assert "tiny-fetch-0123abcd-x7" in blocker.message


def test_an_unbound_cache_claim_is_named_before_the_schedulers_reason() -> None:
    refusal = "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    blocker = download_blocker([unscheduled_pod(refusal)], cache_claim=pending_claim())
    assert blocker is not None
    assert blocker.reason == "VolumeNotBound"
    assert "StorageClass 'does-not-exist'" in blocker.message
    assert "100Gi" in blocker.message
    assert refusal in blocker.message


def test_an_unbound_claim_without_a_class_points_at_the_default_storage_class() -> None:
    blocker = download_blocker([unscheduled_pod()], cache_claim=pending_claim(storage_class=None))
    assert blocker is not None
    assert "default StorageClass" in blocker.message


def test_a_scheduler_error_with_an_unbound_claim_is_still_the_claim() -> None:
    pod = unscheduled_pod('storageclass.storage.k8s.io "x" not found', reason="SchedulerError")
    blocker = download_blocker([pod], cache_claim=pending_claim("x"))
    assert blocker is not None
    assert blocker.reason == "VolumeNotBound"


def test_an_image_the_kubelet_cannot_pull_names_the_kubelets_message() -> None:
    pod = {
        "metadata": {"name": "tiny-fetch-1"},
        "spec": {"nodeName": "cpu-node-1"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "fetch",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}},
                }
            ],
        },
    }
    blocker = download_blocker([pod], cache_claim=BOUND_CLAIM)
    assert blocker is not None
    assert blocker.reason == "ImagePullBackOff"
    assert "manifest unknown" in blocker.message


def test_a_pod_the_scheduler_has_not_looked_at_yet_is_not_blocked() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Pending"}}
    assert download_blocker([pod], cache_claim=pending_claim()) is None


def test_a_scheduled_pod_is_not_blocked_by_its_claim() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n"}, "status": {"phase": "Pending"}}
    assert download_blocker([pod], cache_claim=pending_claim()) is None


def test_a_finished_or_terminating_pod_is_not_blocked() -> None:
    finished = unscheduled_pod()
    finished["status"]["phase"] = "Failed"
    terminating = unscheduled_pod()
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:01Z"
    assert download_blocker([finished, terminating], cache_claim=BOUND_CLAIM) is None


def test_a_fetcher_that_reported_progress_is_not_blocked_whatever_its_pod_says() -> None:
    assert download_blocker([unscheduled_pod()], cache_claim=BOUND_CLAIM, started=True) is None


def test_no_pod_yet_is_not_blocked() -> None:
    assert download_blocker([], cache_claim=pending_claim()) is None


def test_a_missing_pvc_source_claim_is_named_with_the_field_to_fix() -> None:
    refusal = 'persistentvolumeclaim "weights" not found'
    blocker = download_blocker(
        [unscheduled_pod(refusal)],
        cache_claim=BOUND_CLAIM,
        source_claim=SourceClaim(name="weights", claim=None),
    )
    assert blocker is not None
    assert blocker.reason == "VolumeNotBound"
    assert "source claim 'weights' does not exist" in blocker.message
    assert "spec.source.pvc.claimName" in blocker.message


def test_a_pending_pvc_source_claim_is_named_with_its_storage_class() -> None:
    claim = {**pending_claim("slow"), "metadata": {"name": "weights"}}
    blocker = download_blocker(
        [unscheduled_pod()], cache_claim=BOUND_CLAIM, source_claim=SourceClaim(name="weights", claim=claim)
    )
    assert blocker is not None
    assert blocker.reason == "VolumeNotBound"
    assert "model source claim 'weights' is Pending" in blocker.message
    assert "StorageClass 'slow'" in blocker.message


def test_a_bound_pvc_source_claim_leaves_the_schedulers_reason() -> None:
    claim = {"metadata": {"name": "weights"}, "status": {"phase": "Bound"}}
    blocker = download_blocker(
        [unscheduled_pod()], cache_claim=BOUND_CLAIM, source_claim=SourceClaim(name="weights", claim=claim)
    )
    assert blocker is not None
    assert blocker.reason == "Unschedulable"
