"""What an InferenceService's status should say, from what the reconciler observed.

A pure decision from (the Model, the Deployment, the service's pods) to a phase and the four conditions:

- `ModelReady`: the Model's state, with the Model's own failure reason when it failed.
- `Ready`: serving capacity, `readyReplicas >= replicas` of the Deployment; `replicas: 0` is a valid, Ready
  scale-to-zero. While not Ready its reason names the cause (WaitingForModel, InsufficientGPU, CrashLoop, ...).
- `Progressing`: a rollout (or the model download the service waits for) is under way.
- `Degraded`: something needs attention: ModelFailed, InsufficientGPU, Unschedulable, CrashLoop,
  ImagePullBackOff, ProgressDeadlineExceeded, InvalidSpec. It can be True while Ready is True, e.g. when a
  rolling update's new pod waits for a GPU while the old one keeps serving.

Pods waiting for a GPU are told apart from other scheduling failures by the scheduler's message
(`Insufficient nvidia.com/gpu`), because "add a GPU node" and "fix your nodeSelector" are different fixes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from api.v1alpha1.model import Model
from api.v1alpha1.well_known import AS_EXPECTED, DEGRADED, MODEL_READY, PROGRESSING, READY
from controller.builders.conditions import DesiredCondition, find_condition, human_size
from controller.builders.deployment import GPU_RESOURCES

Obj = Mapping[str, Any]

_MESSAGE_LIMIT = 1024


@attrs.frozen(kw_only=True)
class ServiceVerdict:
    phase: str
    conditions: tuple[DesiredCondition, ...]
    replicas: int | None = None
    ready_replicas: int | None = None
    #: Why pods are not placed (the scheduler's message), for `status.scheduling`.
    scheduling: str | None = None


@attrs.frozen(kw_only=True)
class PodProblem:
    reason: str
    message: str
    #: Phase the service is in when this problem keeps it from being Ready.
    phase: str


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
    message = f"Model '{model_name}' is {(phase or 'Pending').lower()}"
    progress = status.progress if status is not None else None
    if progress is not None and progress.bytes_total:
        percent = 100 * progress.bytes_done // progress.bytes_total
        message += f": {percent}% of {human_size(progress.bytes_total)}"
    reason = "Downloading" if phase == "Downloading" else "ModelPending"
    return DesiredCondition(type=MODEL_READY, status="False", reason=reason, message=message)


def _scheduling_problem(pod: Obj) -> PodProblem | None:
    for condition in pod.get("status", {}).get("conditions") or ():
        if condition.get("type") != "PodScheduled" or condition.get("status") != "False":
            continue
        if condition.get("reason") != "Unschedulable":
            return None
        message = str(condition.get("message") or "")
        if any(f"Insufficient {resource}" in message for resource in GPU_RESOURCES.values()):
            return PodProblem(reason="InsufficientGPU", message=message, phase="WaitingForGPU")
        return PodProblem(reason="Unschedulable", message=message, phase="Pending")
    return None


def _container_problem(pod: Obj) -> PodProblem | None:
    pod_name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status", {})
    for container in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        name = container.get("name", "?")
        if reason == "CrashLoopBackOff":
            last = (container.get("lastState") or {}).get("terminated") or {}
            detail = f"last exit {last.get('reason', 'unknown')} (code {last.get('exitCode', '?')})"
            if last.get("message"):
                detail += f": {str(last['message']).strip()[-300:]}"
            return PodProblem(
                reason="CrashLoop",
                message=f"container {name} of pod {pod_name} keeps crashing "
                f"({container.get('restartCount', 0)} restarts); {detail}",
                phase="Failed",
            )
        if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
            return PodProblem(
                reason="ImagePullBackOff",
                message=f"container {name} of pod {pod_name} cannot pull its image: {waiting.get('message', reason)}",
                phase="Failed",
            )
    return None


def pod_problems(pods: Sequence[Obj]) -> list[PodProblem]:
    """Problems of live pods, most actionable first: crashes, image pulls, then scheduling."""
    problems: list[PodProblem] = []
    scheduling: list[PodProblem] = []
    for pod in pods:
        if pod.get("metadata", {}).get("deletionTimestamp"):
            continue
        container = _container_problem(pod)
        if container is not None:
            problems.append(container)
        placement = _scheduling_problem(pod)
        if placement is not None:
            scheduling.append(placement)
    return problems + scheduling


def _deadline_problem(deployment: Obj) -> PodProblem | None:
    for condition in deployment.get("status", {}).get("conditions") or ():
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return PodProblem(
                reason="ProgressDeadlineExceeded",
                message=str(condition.get("message") or ""),
                phase="Deploying",
            )
    return None


def service_verdict(
    *,
    model_name: str,
    model: Model | None,
    deployment: Obj | None,
    pods: Sequence[Obj] = (),
    served_by_host: bool = False,
    host_serving: Obj | None = None,
    desired_replicas: int = 1,
) -> ServiceVerdict:
    """Phase and conditions of an InferenceService; `pods` are its own pods (by selector labels).

    For a host-served service, `host_serving` is the HostServing condition the agent writes (None until an
    agent picks the service up) and `desired_replicas` its spec.replicas.
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
        return _host_verdict(model_condition, host_serving, desired_replicas)
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
    return _deployment_verdict(model_condition, deployment, pods)


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
    model_condition: DesiredCondition, host: Obj | None, desired_replicas: int
) -> ServiceVerdict:
    """A host-served service runs one llama-server on the agent's host, or none when scaled to zero."""
    if desired_replicas == 0:
        return _host_state(
            model_condition,
            phase="Ready",
            ready=("True", "ScaledToZero", "spec.replicas is 0: no server runs"),
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
    model_condition: DesiredCondition, deployment: Obj, pods: Sequence[Obj]
) -> ServiceVerdict:
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    desired = int(spec.get("replicas", 1))
    ready_count = int(status.get("readyReplicas") or 0)
    current = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    generation = int(deployment.get("metadata", {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    # Done only when every pod runs the current template, no old pod is left, and all of them are ready.
    rolled_out = (
        observed >= generation and updated >= desired and current <= desired and ready_count >= desired
    )

    problems = pod_problems(pods)
    deadline = _deadline_problem(deployment)
    if deadline is not None:
        problems.append(deadline)
    first = problems[0] if problems else None
    scheduling = next((p.message for p in problems if p.reason in ("InsufficientGPU", "Unschedulable")), None)
    degraded = ("True", first.reason, first.message) if first else ("False", AS_EXPECTED, "")
    counts = f"{ready_count}/{desired} replicas ready"
    progressing = ("False", "RolloutComplete", counts) if rolled_out else ("True", "RollingOut", counts)

    if ready_count >= desired:
        reason = "ScaledToZero" if desired == 0 else "ReplicasReady"
        phase, ready = "Ready", ("True", reason, counts)
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
