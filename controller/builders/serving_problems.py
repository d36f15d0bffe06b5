"""What keeps an InferenceService's pods from serving: scheduling, crashes, image pulls, a stuck rollout.

Read from the pods and the Deployment as the cache holds them, most actionable first, so status can name one
cause and the fix that goes with it. Pods waiting for a GPU are told apart from other scheduling failures by the
scheduler's message (`Insufficient nvidia.com/gpu`), because "add a GPU node" and "fix your nodeSelector" are
different fixes.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from api.objects import ObjectView, is_terminating, name_of, status_of
from controller.builders.deployment import GPU_RESOURCES


@attrs.frozen(kw_only=True)
class PodProblem:
    reason: str
    message: str
    #: Phase the service is in when this problem keeps it from being Ready.
    phase: str


def _scheduling_problem(pod: ObjectView) -> PodProblem | None:
    for condition in status_of(pod).get("conditions") or ():
        if condition.get("type") != "PodScheduled" or condition.get("status") != "False":
            continue
        if condition.get("reason") != "Unschedulable":
            return None
        message = str(condition.get("message") or "")
        if any(f"Insufficient {resource}" in message for resource in GPU_RESOURCES.values()):
            return PodProblem(reason="InsufficientGPU", message=message, phase="WaitingForGPU")
        return PodProblem(reason="Unschedulable", message=message, phase="Pending")
    return None


def _container_problem(pod: ObjectView) -> PodProblem | None:
    pod_name = name_of(pod) or "?"
    status = status_of(pod)
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


def pod_problems(pods: Sequence[ObjectView]) -> list[PodProblem]:
    """Problems of live pods, most actionable first: crashes, image pulls, then scheduling."""
    problems: list[PodProblem] = []
    scheduling: list[PodProblem] = []
    for pod in pods:
        if is_terminating(pod):
            continue
        container = _container_problem(pod)
        if container is not None:
            problems.append(container)
        placement = _scheduling_problem(pod)
        if placement is not None:
            scheduling.append(placement)
    return problems + scheduling


def rollout_problem(deployment: ObjectView) -> PodProblem | None:
    """The Deployment gave up waiting for its new pods (`progressDeadlineSeconds` passed)."""
    for condition in status_of(deployment).get("conditions") or ():
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return PodProblem(
                reason="ProgressDeadlineExceeded",
                message=str(condition.get("message") or ""),
                phase="Deploying",
            )
    return None
