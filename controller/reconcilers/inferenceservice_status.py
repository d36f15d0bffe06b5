"""The status an InferenceService should carry, and whether writing it would change anything.

Status is written by server-side apply under the controller's field manager, and the status has two writers:
this controller, and the host agent, which owns the `HostServing` condition under `llmkube-agent`. So

- the body we apply holds only the fields and condition types we own; the list-map merge by `type` keeps the
  agent's condition, and a type we stop sending (`Monitoring` once monitoring is off) is removed;
- "has it changed" compares our part of the stored status with the body, conditions sorted by type, so the
  agent's writes and the server's ordering never trigger a write of ours.

Conditions are recomputed on each pass from the current ones, so `lastTransitionTime` moves only when a
condition's status flips (see controller.builders.conditions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from api.v1alpha1.converter import WireError, from_wire, to_wire
from api.v1alpha1.inferenceservice import InferenceServiceStatus
from api.v1alpha1.meta import Condition
from api.v1alpha1.well_known import DEGRADED, MODEL_READY, MONITORING, PROGRESSING, READY
from controller.builders.conditions import DesiredCondition, apply_conditions
from controller.builders.service_status import ServiceVerdict

Object = dict[str, Any]

OWN_CONDITIONS = (READY, MODEL_READY, PROGRESSING, DEGRADED, MONITORING)
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
)


@attrs.frozen(kw_only=True)
class Placement:
    """Facts about the pods that status reports next to the verdict."""

    selector: str | None = None
    endpoint: str | None = None
    gpu_count: int | None = None
    tensor_split: str | None = None


def current_conditions(raw_status: Object | None) -> list[Condition]:
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
    raw_status: Object | None,
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
    )
    wire: Object = to_wire(status)
    return wire


def _sorted_conditions(conditions: Iterable[Any]) -> list[Any]:
    return sorted(
        (c for c in conditions if isinstance(c, dict) and c.get("type") in OWN_CONDITIONS),
        key=lambda c: str(c.get("type")),
    )


def owned_view(status: Object | None) -> Object:
    """Our part of a status, in a canonical form for comparison."""
    view = {k: v for k, v in (status or {}).items() if k in OWN_FIELDS}
    if "conditions" in view:
        view["conditions"] = _sorted_conditions(view["conditions"] or ())
        if not view["conditions"]:
            del view["conditions"]
    return view


def status_differs(stored: Object | None, desired: Object) -> bool:
    return owned_view(stored) != owned_view(desired)


def ready_condition(status: Object | None) -> Object:
    for condition in (status or {}).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == READY:
            return condition
    return {}


@attrs.frozen(kw_only=True)
class Transition:
    """A change worth an Event: the phase or the reason the service is (not) Ready."""

    type: str
    reason: str
    message: str


_WARNING_PHASES = ("Failed", "WaitingForGPU")
_WARNING_REASONS = ("Unschedulable", "InsufficientGPU", "CrashLoop", "ImagePullBackOff", "ModelNotFound")


def transition(stored: Object | None, desired: Object) -> Transition | None:
    """The Event to post when the phase or the Ready reason changed between `stored` and `desired`, else None."""
    old_phase = (stored or {}).get("phase")
    new_phase = desired.get("phase")
    old_ready, new_ready = ready_condition(stored), ready_condition(desired)
    if old_phase == new_phase and old_ready.get("reason") == new_ready.get("reason"):
        return None
    reason = str(new_ready.get("reason") or new_phase or "Unknown")
    warning = new_phase in _WARNING_PHASES or reason in _WARNING_REASONS
    detail = str(new_ready.get("message") or "")
    message = f"{old_phase or 'new'} -> {new_phase}" + (f": {detail}" if detail else "")
    return Transition(type="Warning" if warning else "Normal", reason=reason, message=message)
