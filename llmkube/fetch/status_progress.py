"""Download progress written into `Model.status.progress`, so `kubectl get`, `llmkube deploy --wait` and
`llmkube status` show bytes, rate and ETA while a Job downloads.

The fetch Job runs as the namespace's `llmkube-fetch` ServiceAccount, whose Role allows exactly get/patch on
`models/status`. Progress is written by server-side apply under its own field manager, so it never fights the
controller over the fields the reconciler owns. Reporting is best effort: a fetch never fails because progress
could not be written (no credentials when run by hand, a brief API outage); it logs once and carries on.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.model import API_VERSION
from controller.kube import KubeClient, KubeError
from controller.kube.resources import MODELS
from llmkube.fetch.log import log_event
from llmkube.fetch.progress import Progress, ProgressCallback

FIELD_MANAGER = "llmkube-fetch"


def progress_patch(*, name: str, namespace: str, progress: Progress) -> dict[str, Any]:
    status_progress: dict[str, Any] = {"bytesDone": progress.bytes_done}
    if progress.bytes_total is not None:
        status_progress["bytesTotal"] = progress.bytes_total
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "status": {"progress": status_progress},
    }


class ModelProgressReporter:
    """A `ProgressCallback` that applies each report to one Model's status; disables itself after an error."""

    def __init__(self, client: KubeClient, *, name: str, namespace: str) -> None:
        self._client = client
        self._name = name
        self._namespace = namespace
        self._broken = False

    async def __call__(self, progress: Progress) -> None:
        if self._broken:
            return
        try:
            await self._client.apply_status(
                MODELS,
                progress_patch(name=self._name, namespace=self._namespace, progress=progress),
                field_manager=FIELD_MANAGER,
            )
        except (KubeError, OSError) as exc:
            self._broken = True
            log_event("progress-status-disabled", model=f"{self._namespace}/{self._name}", error=str(exc))


def chained(*callbacks: ProgressCallback) -> ProgressCallback:
    async def report(progress: Progress) -> None:
        for callback in callbacks:
            await callback(progress)

    return report
