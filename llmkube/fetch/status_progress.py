"""Download progress written into `Model.status.progress`, so `kubectl get`, `llmkube deploy --wait` and
`llmkube status` show bytes, rate and ETA while a Job downloads.

The fetch Job runs as the namespace's `llmkube-fetch` ServiceAccount, whose Role allows exactly get/patch on
`models/status`. Progress is written by server-side apply under its own field manager, so it never fights the
controller over the fields the reconciler owns.

Reporting is best effort and must never get in the download's way: a fetch never fails because progress could
not be written (no credentials when run by hand, a brief API outage, a Model deleted meanwhile). Each report gets
a time budget, a share of the report interval, because the progress timer awaits it before its next tick and a
hung API call (the client's own deadline is 30 s) would otherwise space out the progress log lines. A report that
fails or runs out of time is dropped; the next tick tries again with fresher numbers. A run of failures is logged
once when it reaches `FAILURES_BEFORE_WARNING`, and once more when reports land again.
"""

from __future__ import annotations

from typing import Any, Protocol

from api.v1alpha1.model import API_VERSION
from api.v1alpha1.well_known import FETCHER_MANAGER
from controller.kube.resources import MODELS, Resource
from controller.runtime.clock import Clock, MonotonicClock, finish_by
from llmkube.fetch.log import log_event
from llmkube.fetch.progress import Progress, ProgressCallback


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


#: Consecutive reports that did not land before the fetcher says so in its log.
FAILURES_BEFORE_WARNING = 3


class StatusWriter(Protocol):
    """The one call the reporter makes (`KubeClient.apply_status`)."""

    async def apply_status(
        self, resource: Resource, obj: dict[str, Any], *, field_manager: str, force: bool = True
    ) -> dict[str, Any]: ...


class ModelProgressReporter:
    """A `ProgressCallback` that applies each report to one Model's status, within `budget_s` seconds.

    Invariant: `_failures` counts the consecutive reports that did not land (0 after one that did).
    """

    def __init__(
        self,
        client: StatusWriter,
        *,
        name: str,
        namespace: str,
        budget_s: float,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._name = name
        self._namespace = namespace
        self._budget_s = budget_s
        self._clock = clock or MonotonicClock()
        self._failures = 0

    async def __call__(self, progress: Progress) -> None:
        problem = await self._apply_within_budget(
            progress_patch(name=self._name, namespace=self._namespace, progress=progress)
        )
        if problem is None:
            if self._failures >= FAILURES_BEFORE_WARNING:
                log_event("progress-status-resumed", model=self._model, failedReports=self._failures)
            self._failures = 0
            return
        self._failures += 1
        if self._failures == FAILURES_BEFORE_WARNING:
            log_event(
                "progress-status-failing", model=self._model, failedReports=self._failures, error=problem
            )

    @property
    def _model(self) -> str:
        return f"{self._namespace}/{self._name}"

    async def _apply_within_budget(self, patch: dict[str, Any]) -> str | None:
        """None once `patch` is applied; otherwise why it was not (an API error, or no answer in time)."""
        problem: str | None = None

        async def apply() -> None:
            nonlocal problem
            try:
                await self._client.apply_status(MODELS, patch, field_manager=FETCHER_MANAGER)
            except Exception as exc:  # whatever went wrong, the download must go on
                problem = f"{type(exc).__name__}: {exc}"

        if not await finish_by(self._clock, self._clock.now() + self._budget_s, apply):
            return f"no answer within {self._budget_s:g}s"
        return problem


def chained(*callbacks: ProgressCallback) -> ProgressCallback:
    async def report(progress: Progress) -> None:
        for callback in callbacks:
            await callback(progress)

    return report
