"""What an InferenceService's status should say, and whether writing it would change anything.

The verdict is a pure decision from (the Model, the Deployment, the service's pods, the host agent's report) to a
phase and the four conditions:

- `ModelReady`: the Model's state, with the Model's own failure reason when it failed.
- `Ready`: serving capacity, `readyReplicas >= replicas` of the Deployment; `replicas: 0` is a valid, Ready
  scale-to-zero. While not Ready its reason names the cause (WaitingForModel, InsufficientGPU, CrashLoop, ...).
  At zero replicas the phase is `ScaledToZero`, not `Ready`: nothing answers a request sent straight to the
  Service, and the message says whether the gateway starts a replica on the next request (`spec.scaleToZero`)
  or someone has to scale it up.
- `Progressing`: a rollout (or the model download the service waits for) is under way.
- `Degraded`: something needs attention: ModelFailed, InsufficientGPU, Unschedulable, CrashLoop,
  ImagePullBackOff, ProgressDeadlineExceeded, InvalidSpec (see controller.builders.serving_problems). It can be
  True while Ready is True, e.g. when a rolling update's new pod waits for a GPU while the old one keeps serving.

Status has two writers: the controller, and the host agent, which owns the `HostServing` condition under its own
field manager. So the body the controller applies (`desired_status`) holds only the fields and condition types it
owns; the list-map merge by `type` keeps the agent's condition, and a type no longer sent (`Monitoring` once
monitoring is off) is removed. "Has it changed" (`status_differs`) compares only that part, conditions sorted by
type, so the agent's writes and the server's ordering never cause a write of ours.

Conditions are recomputed on each pass from the current ones, so `lastTransitionTime` moves only when a
condition's status flips (see controller.builders.conditions); an Event is due when the phase or the Ready reason
changed (`transition`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from api.objects import Object, ObjectView, condition_of, metadata, status_of
from api.v1alpha1.converter import WireError, from_wire, to_wire
from api.v1alpha1.inferenceservice import InferenceServiceStatus
from api.v1alpha1.memory import MemoryStatus, PlannedMemory
from api.v1alpha1.meta import Condition
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import (
    AS_EXPECTED,
    DEGRADED,
    FITS,
    MODEL_READY,
    MONITORING,
    PROGRESSING,
    READY,
)
from controller.builders.conditions import (
    DesiredCondition,
    Transition,
    apply_conditions,
    find_condition,
    human_size,
)
from controller.builders.download_blockers import BLOCKER_REASONS
from controller.builders.serving_problems import pod_problems, rollout_problem

#: Condition types this controller owns; HostServing belongs to the host agent.
OWN_CONDITIONS = (READY, MODEL_READY, PROGRESSING, DEGRADED, MONITORING, FITS)
#: Status fields this controller owns (wire names); anything else in status belongs to someone else.
OWN_FIELDS = (
    "phase",
    "conditions",
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "selector",
    "endpoint",
    "gpuCount",
    "tensorSplit",
    "scheduling",
    "memory",
)
#: Parts of `status.memory` the host agent writes (what llama-server allocated); not ours to compare or send.
AGENT_MEMORY_FIELDS = ("allocated",)

_MESSAGE_LIMIT = 1024


@attrs.frozen(kw_only=True)
class Placement:
    """Facts about the pods that status reports next to the verdict."""

    selector: str | None = None
    endpoint: str | None = None
    gpu_count: int | None = None
    tensor_split: str | None = None
    #: The memory plan, for `status.memory.planned`.
    memory: PlannedMemory | None = None


@attrs.frozen(kw_only=True)
class ServiceVerdict:
    phase: str
    conditions: tuple[DesiredCondition, ...]
    replicas: int | None = None
    ready_replicas: int | None = None
    #: Why pods are not placed (the scheduler's message), for `status.scheduling`.
    scheduling: str | None = None


def _conditions(
    *,
    model: DesiredCondition,
    ready: tuple[str, str, str],
    progressing: tuple[str, str, str],
    degraded: tuple[str, str, str],
) -> tuple[DesiredCondition, ...]:
    def make(kind: str, values: tuple[str, str, str]) -> DesiredCondition:
        status, reason, message = values
        return DesiredCondition(type=kind, status=status, reason=reason, message=message[:_MESSAGE_LIMIT])

    return (make(READY, ready), model, make(PROGRESSING, progressing), make(DEGRADED, degraded))


def invalid_spec_verdict(message: str) -> ServiceVerdict:
    """The spec cannot be turned into a Deployment (e.g. a reserved flag in extraArgs); nothing is applied."""
    return ServiceVerdict(
        phase="Failed",
        conditions=_conditions(
            model=DesiredCondition(type=MODEL_READY, status="Unknown", reason="InvalidSpec", message=""),
            ready=("False", "InvalidSpec", message),
            progressing=("False", "InvalidSpec", ""),
            degraded=("True", "InvalidSpec", message),
        ),
    )


def does_not_fit_verdict(model_name: str, model: Model, message: str) -> ServiceVerdict:
    """The memory plan fits nothing the service may land on, and its fitPolicy is Enforce: no Deployment."""
    return ServiceVerdict(
        phase="Failed",
        conditions=_conditions(
            model=_model_condition(model_name, model),
            ready=("False", "DoesNotFit", message),
            progressing=("False", "DoesNotFit", ""),
            degraded=("True", "DoesNotFit", message),
        ),
    )


def _model_condition(model_name: str, model: Model | None) -> DesiredCondition:
    if model is None:
        return DesiredCondition(
            type=MODEL_READY,
            status="False",
            reason="ModelNotFound",
            message=f"Model '{model_name}' not found in this namespace: create it or fix spec.modelRef.name",
        )
    status = model.status
    phase = status.phase if status is not None else None
    if status is not None and phase == "Ready":
        size = f"{status.size} " if status.size else ""
        return DesiredCondition(
            type=MODEL_READY, status="True", reason="ModelReady", message=f"{size}cached".strip()
        )
    if status is not None and phase == "Failed":
        degraded = find_condition(status.conditions, DEGRADED)
        reason = degraded.reason if degraded is not None else "ModelFailed"
        detail = degraded.message if degraded is not None else ""
        return DesiredCondition(
            type=MODEL_READY, status="False", reason=reason, message=f"Model '{model_name}' failed: {detail}"
        )
    blocked = (
        find_condition(status.conditions, DEGRADED) if status is not None and phase == "Pending" else None
    )
    if blocked is not None and blocked.status == "True" and blocked.reason in BLOCKER_REASONS:
        return DesiredCondition(
            type=MODEL_READY,
            status="False",
            reason=blocked.reason,
            message=f"Model '{model_name}' cannot download: {blocked.message}",
        )
    message = f"Model '{model_name}' is {(phase or 'Pending').lower()}"
    progress = status.progress if status is not None else None
    if progress is not None and progress.bytes_total:
        percent = 100 * progress.bytes_done // progress.bytes_total
        message += f": {percent}% of {human_size(progress.bytes_total)}"
    reason = "Downloading" if phase == "Downloading" else "ModelPending"
    return DesiredCondition(type=MODEL_READY, status="False", reason=reason, message=message)


def service_verdict(
    *,
    model_name: str,
    model: Model | None,
    deployment: ObjectView | None,
    pods: Sequence[ObjectView] = (),
    served_by_host: bool = False,
    host_serving: ObjectView | None = None,
    desired_replicas: int = 1,
    wakes_on_request: bool = False,
) -> ServiceVerdict:
    """Phase and conditions of an InferenceService; `pods` are its own pods (by selector labels).

    For a host-served service, `host_serving` is the HostServing condition the agent writes (None until an
    agent picks the service up) and `desired_replicas` its spec.replicas. `wakes_on_request`: the service sets
    spec.scaleToZero, so at zero the gateway scales it up on the next request.
    """
    model_condition = _model_condition(model_name, model)
    if model_condition.status != "True":
        failed = model is not None and model.status is not None and model.status.phase == "Failed"
        if failed:
            return ServiceVerdict(
                phase="Failed",
                conditions=_conditions(
                    model=model_condition,
                    ready=("False", "ModelFailed", model_condition.message),
                    progressing=("False", "ModelFailed", ""),
                    degraded=("True", "ModelFailed", model_condition.message),
                ),
            )
        reason = "ModelNotFound" if model is None else "WaitingForModel"
        # A missing Model needs someone to act (create it or fix modelRef); a downloading one only needs time.
        degraded = ("True", reason, model_condition.message) if model is None else ("False", AS_EXPECTED, "")
        return ServiceVerdict(
            phase="WaitingForModel",
            conditions=_conditions(
                model=model_condition,
                ready=("False", reason, model_condition.message),
                progressing=("True" if model is not None else "False", reason, model_condition.message),
                degraded=degraded,
            ),
        )
    if served_by_host:
        return _host_verdict(model_condition, host_serving, desired_replicas, wakes_on_request)
    if deployment is None:
        return ServiceVerdict(
            phase="Deploying",
            conditions=_conditions(
                model=model_condition,
                ready=("False", "Deploying", "creating the Deployment"),
                progressing=("True", "Creating", "creating the Deployment"),
                degraded=("False", AS_EXPECTED, ""),
            ),
        )
    return _deployment_verdict(model_condition, deployment, pods, wakes_on_request)


def scaled_to_zero_message(*, wakes_on_request: bool, stopping: int = 0) -> str:
    """What a service at zero replicas tells its user: who brings it back, and what is still going away."""
    message = (
        "scaled to zero: the gateway starts a replica on the next request (spec.scaleToZero)"
        if wakes_on_request
        else "spec.replicas is 0: no server runs; scale it up to serve"
    )
    if stopping:
        message += f"; {stopping} pod(s) still stopping"
    return message


#: Reasons of the agent's HostServing condition that need someone to look (the rest only need time).
HOST_PROBLEMS = frozenset(
    {
        "FetchFailed",
        "Crashed",
        "ServerFailed",
        "Unhealthy",
        "InvalidSpec",
        "ModelNotFound",
        "UnsupportedSource",
    }
)


def _host_state(
    model_condition: DesiredCondition,
    *,
    phase: str,
    ready: tuple[str, str, str],
    progressing: tuple[str, str, str],
    servers: tuple[int, int],
    degraded: tuple[str, str, str] = ("False", AS_EXPECTED, ""),
) -> ServiceVerdict:
    replicas, ready_replicas = servers
    return ServiceVerdict(
        phase=phase,
        conditions=_conditions(
            model=model_condition, ready=ready, progressing=progressing, degraded=degraded
        ),
        replicas=replicas,
        ready_replicas=ready_replicas,
    )


def _host_verdict(
    model_condition: DesiredCondition, host: ObjectView | None, desired_replicas: int, wakes_on_request: bool
) -> ServiceVerdict:
    """A host-served service runs one llama-server on the agent's host, or none when scaled to zero."""
    if desired_replicas == 0:
        return _host_state(
            model_condition,
            phase="ScaledToZero",
            ready=("True", "ScaledToZero", scaled_to_zero_message(wakes_on_request=wakes_on_request)),
            progressing=("False", "ScaledToZero", ""),
            servers=(0, 0),
        )
    status = str((host or {}).get("status") or "")
    reason = str((host or {}).get("reason") or "")
    message = str((host or {}).get("message") or "")
    if status == "True":
        return _host_state(
            model_condition,
            phase="Ready",
            ready=("True", "ServedByHostAgent", message or "the host agent serves this model"),
            progressing=("False", "ServedByHostAgent", ""),
            servers=(1, 1),
        )
    if reason in HOST_PROBLEMS:
        return _host_state(
            model_condition,
            phase="Deploying",
            ready=("False", reason, message),
            progressing=("True", reason, message),
            degraded=("True", reason, message),
            servers=(1, 0),
        )
    if host is None or reason == "AgentStopped":
        waiting = "waiting for `llmkube agent` on a host to serve this model"
        if message:
            waiting += f" ({message})"
        return _host_state(
            model_condition,
            phase="Deploying",
            ready=("False", "WaitingForHostAgent", waiting),
            progressing=("True", "WaitingForHostAgent", waiting),
            servers=(0, 0),
        )
    # The agent has it in hand (fetching the model, starting the server): say what it is doing.
    return _host_state(
        model_condition,
        phase="Deploying",
        ready=("False", reason or "Starting", message),
        progressing=("True", reason or "Starting", message),
        servers=(1, 0),
    )


def _deployment_verdict(
    model_condition: DesiredCondition,
    deployment: ObjectView,
    pods: Sequence[ObjectView],
    wakes_on_request: bool,
) -> ServiceVerdict:
    spec = deployment.get("spec", {})
    status = status_of(deployment)
    desired = int(spec.get("replicas", 1))
    ready_count = int(status.get("readyReplicas") or 0)
    current = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    generation = int(metadata(deployment).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    # Done only when every pod runs the current template, no old pod is left, and all of them are ready.
    rolled_out = (
        observed >= generation and updated >= desired and current <= desired and ready_count >= desired
    )

    problems = pod_problems(pods)
    deadline = rollout_problem(deployment)
    if deadline is not None:
        problems.append(deadline)
    first = problems[0] if problems else None
    scheduling = next((p.message for p in problems if p.reason in ("InsufficientGPU", "Unschedulable")), None)
    degraded = ("True", first.reason, first.message) if first else ("False", AS_EXPECTED, "")
    counts = f"{ready_count}/{desired} replicas ready"
    progressing = ("False", "RolloutComplete", counts) if rolled_out else ("True", "RollingOut", counts)

    if desired == 0:
        message = scaled_to_zero_message(wakes_on_request=wakes_on_request, stopping=current)
        phase, ready = "ScaledToZero", ("True", "ScaledToZero", message)
    elif ready_count >= desired:
        phase, ready = "Ready", ("True", "ReplicasReady", counts)
    elif first is not None:
        phase, ready = first.phase, ("False", first.reason, first.message)
    else:
        phase, ready = "Deploying", ("False", "Deploying", counts)
    return ServiceVerdict(
        phase=phase,
        conditions=_conditions(
            model=model_condition, ready=ready, progressing=progressing, degraded=degraded
        ),
        replicas=current,
        ready_replicas=ready_count,
        scheduling=scheduling,
    )


# -- the status body ------------------------------------------------------------------------------------------


def current_conditions(raw_status: ObjectView | None) -> list[Condition]:
    """Our conditions as stored; unreadable entries (hand-edited status) are dropped, to be rewritten."""
    kept: list[Condition] = []
    for item in (raw_status or {}).get("conditions") or ():
        if not isinstance(item, dict) or item.get("type") not in OWN_CONDITIONS:
            continue
        try:
            kept.append(from_wire(item, Condition))
        except WireError:
            continue
    return kept


def desired_status(
    *,
    raw_status: ObjectView | None,
    verdict: ServiceVerdict,
    placement: Placement,
    generation: int | None,
    now: datetime,
    extra_conditions: Sequence[DesiredCondition] = (),
) -> Object:
    """The status body to apply: the verdict, the placement facts and our conditions (wire form)."""
    wanted = [*verdict.conditions, *extra_conditions]
    conditions = apply_conditions(
        current_conditions(raw_status), wanted, observed_generation=generation, now=now
    )
    wanted_types = {c.type for c in wanted}
    status = InferenceServiceStatus(
        phase=verdict.phase,
        conditions=[c for c in conditions if c.type in wanted_types],
        observed_generation=generation,
        replicas=verdict.replicas if verdict.replicas is not None else 0,
        ready_replicas=verdict.ready_replicas if verdict.ready_replicas is not None else 0,
        selector=placement.selector,
        endpoint=placement.endpoint,
        gpu_count=placement.gpu_count,
        tensor_split=placement.tensor_split,
        scheduling=verdict.scheduling,
        memory=MemoryStatus(planned=placement.memory) if placement.memory is not None else None,
    )
    wire: Object = to_wire(status)
    return wire


def _sorted_conditions(conditions: Iterable[Any]) -> list[Any]:
    return sorted(
        (c for c in conditions if isinstance(c, dict) and c.get("type") in OWN_CONDITIONS),
        key=lambda c: str(c.get("type")),
    )


def owned_view(status: ObjectView | None) -> Object:
    """Our part of a status, in a canonical form for comparison."""
    view = {k: v for k, v in (status or {}).items() if k in OWN_FIELDS}
    if isinstance(view.get("memory"), dict):
        view["memory"] = {k: v for k, v in view["memory"].items() if k not in AGENT_MEMORY_FIELDS}
        if not view["memory"]:
            del view["memory"]
    if "conditions" in view:
        view["conditions"] = _sorted_conditions(view["conditions"] or ())
        if not view["conditions"]:
            del view["conditions"]
    return view


def status_differs(stored: ObjectView | None, desired: ObjectView) -> bool:
    return owned_view(stored) != owned_view(desired)


@attrs.frozen(kw_only=True)
class StatusChange:
    """What a status write would change: our part of the status as stored and as wanted, and the Event due."""

    stored: Object
    desired: Object
    event: Transition | None

    @property
    def changed(self) -> bool:
        return self.stored != self.desired


def status_change(
    *,
    raw_status: ObjectView | None,
    verdict: ServiceVerdict,
    placement: Placement,
    generation: int | None,
    now: datetime,
    extra_conditions: Sequence[DesiredCondition] = (),
) -> StatusChange:
    """The whole status decision of one pass: `desired_status`, compared and announced as the writer needs it."""
    desired = desired_status(
        raw_status=raw_status,
        verdict=verdict,
        placement=placement,
        generation=generation,
        now=now,
        extra_conditions=extra_conditions,
    )
    return StatusChange(
        stored=owned_view(raw_status), desired=owned_view(desired), event=transition(raw_status, desired)
    )


# -- events ---------------------------------------------------------------------------------------------------

_WARNING_PHASES = ("Failed", "WaitingForGPU")
_WARNING_REASONS = ("Unschedulable", "InsufficientGPU", "CrashLoop", "ImagePullBackOff", "ModelNotFound")


def transition(stored: ObjectView | None, desired: ObjectView) -> Transition | None:
    """The Event to post when the phase or the Ready reason changed between `stored` and `desired`, else None.

    The message names what changed: the phases when the phase moved, else the Ready reasons, so that an Event
    never reads "WaitingForModel -> WaitingForModel".
    """
    old_phase = (stored or {}).get("phase")
    new_phase = desired.get("phase")
    old_ready = condition_of({"status": stored}, READY) or {}
    new_ready = condition_of({"status": desired}, READY) or {}
    old_reason, new_reason = old_ready.get("reason"), new_ready.get("reason")
    if old_phase == new_phase and old_reason == new_reason:
        return None
    reason = str(new_reason or new_phase or "Unknown")
    warning = new_phase in _WARNING_PHASES or reason in _WARNING_REASONS
    detail = str(new_ready.get("message") or "")
    if old_phase == new_phase:
        change = f"{new_phase}: {old_reason or 'none'} -> {reason}"
    else:
        change = f"{old_phase or 'new'} -> {new_phase}"
    message = change + (f": {detail}" if detail else "")
    return Transition(type="Warning" if warning else "Normal", reason=reason, message=message)
