"""The `HostServing` condition: the one status field the agent writes on an InferenceService.

The InferenceService reconciler owns everything else in status and derives the phase from this condition, so the
agent applies (server-side, field manager `llmkube-agent`, force) a status holding only this one entry of the
`conditions` list-map. Consequences of that ownership:

- an apply never disturbs the reconciler's conditions, and the reconciler's applies never remove ours;
- applying a status without the entry under our manager removes it, which is how a service this agent stopped
  serving (accelerator changed away from metal/host) loses the condition;
- `lastTransitionTime` moves only when `status` flips, as for every other condition.

The message carries the URLs when serving, since that is what a human reading `kubectl describe` wants next.

While serving, the same apply carries `status.memory.allocated`: what llama-server allocated, read from its log,
next to the controller's `status.memory.planned`. It is sent with every apply of ours (an apply without it would
remove it) and left out once the server stops.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from api.objects import Object, ObjectView, condition_of, metadata, status_of
from api.v1alpha1.converter import to_wire
from api.v1alpha1.memory import AllocatedMemory
from api.v1alpha1.well_known import AGENT_MANAGER, HOST_SERVING
from controller.builders.allocation_log import allocated_memory
from controller.builders.conditions import format_time
from controller.kube import KubeClient
from controller.kube.recorder import EventType
from controller.kube.resources import INFERENCE_SERVICES
from llmkube.agent.supervisor import (
    CRASHED,
    DOWNLOADING,
    FETCH_FAILED,
    SERVER_FAILED,
    SERVING,
    STARTING,
    UNHEALTHY,
    ServingState,
)

AGENT_STOPPED = "AgentStopped"
MODEL_NOT_FOUND = "ModelNotFound"
SCALED_TO_ZERO = "ScaledToZero"
INVALID_SPEC = "InvalidSpec"

#: Reasons that deserve a Warning Event rather than a Normal one.
WARNING_REASONS = frozenset({FETCH_FAILED, CRASHED, SERVER_FAILED, UNHEALTHY, MODEL_NOT_FOUND, INVALID_SPEC})


@attrs.frozen(kw_only=True)
class HostServing:
    """What the condition should say; generation and transition time are added when it is written."""

    status: str
    reason: str
    message: str
    #: What the serving llama-server allocated, for `status.memory.allocated`.
    allocated: AllocatedMemory | None = None

    @property
    def event_type(self) -> EventType:
        return "Warning" if self.reason in WARNING_REASONS else "Normal"


def serving_verdict(
    state: ServingState, *, local_url: str | None, cluster_url: str, host: str
) -> HostServing:
    """The condition for a supervisor's state; the phases are already condition reasons."""
    if state.phase == SERVING:
        return HostServing(
            status="True",
            reason=SERVING,
            message=f"serving {local_url} on host {host} (in the cluster: {cluster_url})",
            allocated=allocated_memory(state.allocation) if state.allocation is not None else None,
        )
    if state.phase in (DOWNLOADING, STARTING, FETCH_FAILED, UNHEALTHY, CRASHED, SERVER_FAILED):
        return HostServing(status="False", reason=state.phase, message=state.message)
    return HostServing(status="False", reason="Unknown", message=state.message)


def current_condition(isvc: ObjectView) -> ObjectView | None:
    return condition_of(isvc, HOST_SERVING)


def is_current(isvc: ObjectView, wanted: HostServing) -> bool:
    """Whether the stored condition already says `wanted` for the current generation."""
    found = current_condition(isvc)
    if found is None:
        return False
    generation = metadata(isvc).get("generation")
    return (
        found.get("status") == wanted.status
        and found.get("reason") == wanted.reason
        and found.get("message") == wanted.message
        and found.get("observedGeneration") == generation
        and (status_of(isvc).get("memory") or {}).get("allocated") == _allocated_wire(wanted)
    )


def _allocated_wire(wanted: HostServing) -> Object | None:
    return to_wire(wanted.allocated) if wanted.allocated is not None else None


def condition_body(isvc: ObjectView, wanted: HostServing, *, now: datetime) -> Object:
    """The apply body: the isvc's identity and our one condition, with the transition time kept if unflipped."""
    meta = metadata(isvc)
    found = current_condition(isvc)
    transition = format_time(now)
    if found is not None and found.get("status") == wanted.status and found.get("lastTransitionTime"):
        transition = str(found["lastTransitionTime"])
    condition: Object = {
        "type": HOST_SERVING,
        "status": wanted.status,
        "reason": wanted.reason,
        "message": wanted.message,
        "lastTransitionTime": transition,
    }
    if meta.get("generation") is not None:
        condition["observedGeneration"] = meta["generation"]
    return _status_body(isvc, [condition], allocated=_allocated_wire(wanted))


def _status_body(isvc: ObjectView, conditions: list[Object], *, allocated: Object | None = None) -> Object:
    meta = metadata(isvc)
    body: Object = {
        "apiVersion": INFERENCE_SERVICES.api_version,
        "kind": INFERENCE_SERVICES.kind,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    if conditions:
        body["status"] = {"conditions": conditions}
        if allocated is not None:
            body["status"]["memory"] = {"allocated": allocated}
    return body


async def report(client: KubeClient, isvc: ObjectView, wanted: HostServing) -> bool:
    """Apply the condition unless the cache shows it already; True when written."""
    if is_current(isvc, wanted):
        return False
    body = condition_body(isvc, wanted, now=datetime.now(UTC))
    await client.apply_status(INFERENCE_SERVICES, body, field_manager=AGENT_MANAGER, force=True)
    return True


async def withdraw(client: KubeClient, isvc: ObjectView) -> None:
    """Remove our condition (the service is no longer ours to serve)."""
    await client.apply_status(
        INFERENCE_SERVICES, _status_body(isvc, []), field_manager=AGENT_MANAGER, force=True
    )
