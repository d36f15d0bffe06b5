"""`deploy --wait`: follow a Model and its InferenceService until the service is Ready or something failed.

The decision (`verdict`) is a pure function of the two objects, so each outcome is tested without a cluster.
Display is separate: on a terminal a rich progress bar shows the download (bytes, rate and ETA computed by rich
from successive `status.progress` samples) under a line with both phases; elsewhere one plain line per change,
so logs of CI jobs stay readable. The objects are polled, not watched: one GET of each per second is cheap,
and it survives apiserver restarts and proxies that cut long-lived connections without any resume logic.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable

import anyio
import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.meta import Condition
from api.v1alpha1.model import Model
from llmkube.cli.views import find_condition


class Outcome(enum.Enum):
    waiting = "waiting"
    ready = "ready"
    failed = "failed"


@attrs.frozen(kw_only=True)
class Verdict:
    outcome: Outcome
    reason: str = ""


def _why(conditions: list[Condition] | None, kind: str, name: str) -> str:
    for type_ in ("Degraded", "Ready"):
        condition = find_condition(conditions, type_)
        if condition is not None and condition.status != ("False" if type_ == "Degraded" else "True"):
            return f"{kind} {name}: {condition.reason}: {condition.message}"
    return f"{kind} {name} failed"


def verdict(model: Model | None, isvc: InferenceService | None) -> Verdict:
    """Ready only when the service says so for the current generation; Failed as soon as either says so."""
    if model is not None and model.status is not None and model.status.phase == "Failed":
        return Verdict(
            outcome=Outcome.failed,
            reason=_why(model.status.conditions, "Model", model.metadata.name or ""),
        )
    if isvc is None or isvc.status is None:
        return Verdict(outcome=Outcome.waiting)
    status = isvc.status
    if status.phase == "Failed":
        return Verdict(
            outcome=Outcome.failed,
            reason=_why(status.conditions, "InferenceService", isvc.metadata.name or ""),
        )
    current = status.observed_generation is None or status.observed_generation >= (
        isvc.metadata.generation or 0
    )
    # At zero replicas the service is where its spec wants it: there is nothing more to wait for.
    if status.phase in ("Ready", "ScaledToZero") and current:
        return Verdict(outcome=Outcome.ready)
    return Verdict(outcome=Outcome.waiting)


def phase_line(model: Model | None, isvc: InferenceService | None) -> str:
    model_phase = (model.status.phase if model and model.status else None) or "Pending"
    parts = [f"Model {model_phase}"]
    if isvc is not None:
        status = isvc.status
        phase = (status.phase if status else None) or "Pending"
        ready = (status.ready_replicas if status else None) or 0
        desired = status.replicas if status and status.replicas is not None else isvc.spec.replicas
        service = f"Service {phase} ({ready}/{desired} ready)"
        if status is not None and status.scheduling:
            service += f": {status.scheduling}"
        elif status is not None:
            service += _needs_someone(status.conditions)
        parts.append(service)
    return ", ".join(parts)


#: Ready reasons that no amount of waiting fixes, so the progress line says what is missing.
_NEEDS_SOMEONE = frozenset({"WaitingForHostAgent", "ModelNotFound"})


def _needs_someone(conditions: list[Condition] | None) -> str:
    degraded = find_condition(conditions, "Degraded")
    if degraded is not None and degraded.status == "True" and degraded.message:
        return f": {degraded.reason}: {degraded.message}"
    ready = find_condition(conditions, "Ready")
    if ready is not None and ready.status != "True" and ready.reason in _NEEDS_SOMEONE and ready.message:
        return f": {ready.message}"
    return ""


Fetch = Callable[[], Awaitable[tuple[Model | None, InferenceService | None]]]


class WaitDisplay:
    """Draws the phases and the download; `update` is called once per poll."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live = console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self._live,
        )
        self._status_task: TaskID | None = None
        self._download_task: TaskID | None = None
        self._last_line = ""
        self._last_decile = -1

    def __enter__(self) -> WaitDisplay:
        self._progress.start()
        self._status_task = self._progress.add_task("", total=None, start=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, model: Model | None, isvc: InferenceService | None, *, elapsed_s: float) -> None:
        line = phase_line(model, isvc)
        progress = model.status.progress if model and model.status else None
        if self._live:
            assert self._status_task is not None
            self._progress.update(self._status_task, description=f"[{elapsed_s:4.0f}s] {line}")
            if progress is not None and model is not None and model.status is not None:
                if self._download_task is None:
                    self._download_task = self._progress.add_task(
                        "  download", total=progress.bytes_total, completed=progress.bytes_done
                    )
                self._progress.update(
                    self._download_task, total=progress.bytes_total, completed=progress.bytes_done
                )
            return
        if line != self._last_line:
            self._console.print(f"[{elapsed_s:4.0f}s] {line}", markup=False, highlight=False)
            self._last_line = line
        if progress is not None and progress.bytes_total:
            decile = int(10 * progress.bytes_done / progress.bytes_total)
            if decile != self._last_decile:
                self._last_decile = decile
                self._console.print(
                    f"        downloaded {progress.bytes_done:,} of {progress.bytes_total:,} bytes "
                    f"({100 * progress.bytes_done / progress.bytes_total:.0f}%)",
                    markup=False,
                    highlight=False,
                )


async def wait_until_ready(
    fetch: Fetch, *, display: WaitDisplay, timeout_s: float, poll_s: float = 1.0
) -> tuple[Verdict, Model | None, InferenceService | None]:
    """Polls until a final verdict or the timeout (then the verdict is still `waiting`)."""
    started = time.monotonic()
    model: Model | None = None
    isvc: InferenceService | None = None
    with anyio.move_on_after(timeout_s):
        while True:
            model, isvc = await fetch()
            display.update(model, isvc, elapsed_s=time.monotonic() - started)
            result = verdict(model, isvc)
            if result.outcome is not Outcome.waiting:
                return result, model, isvc
            await anyio.sleep(poll_s)
    return Verdict(outcome=Outcome.waiting), model, isvc
