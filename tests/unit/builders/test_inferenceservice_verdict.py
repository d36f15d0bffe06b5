from __future__ import annotations

from typing import Any

import attrs

from api.v1alpha1.meta import Condition
from api.v1alpha1.model import DownloadProgress, Model, ModelStatus
from controller.builders.inferenceservice_status import ServiceVerdict, invalid_spec_verdict, service_verdict
from tests.unit.builders.conftest import model_from, ready

MODEL = ready(model_from({"source": {"url": "https://e.x/a.gguf"}}))


def condition(verdict: ServiceVerdict, kind: str) -> tuple[str, str]:
    found = next(c for c in verdict.conditions if c.type == kind)
    return found.status, found.reason


def message(verdict: ServiceVerdict, kind: str) -> str:
    return next(c for c in verdict.conditions if c.type == kind).message


def deployment(
    *, replicas: int = 1, ready_replicas: int = 0, updated: int | None = None, **status: Any
) -> dict[str, Any]:
    return {
        "metadata": {"generation": 2},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "updatedReplicas": replicas if updated is None else updated,
            "readyReplicas": ready_replicas,
            **status,
        },
    }


def pending_pod(message: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat-abc-123"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
            ],
        },
    }


def crashing_pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "chat-abc-123"},
        "status": {
            "containerStatuses": [
                {
                    "name": "llama-server",
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {"reason": "Error", "exitCode": 1, "message": "failed to load model"}
                    },
                }
            ]
        },
    }


def with_phase(model: Model, phase: str, **fields: Any) -> Model:
    return attrs.evolve(model, status=ModelStatus(phase=phase, **fields))


def test_a_missing_model_waits_with_reason_model_not_found() -> None:
    verdict = service_verdict(model_name="tiny", model=None, deployment=None)
    assert verdict.phase == "WaitingForModel"
    assert condition(verdict, "Ready") == ("False", "ModelNotFound")
    assert condition(verdict, "ModelReady") == ("False", "ModelNotFound")


def test_a_downloading_model_is_waited_for_with_its_progress() -> None:
    model = with_phase(
        MODEL, "Downloading", progress=DownloadProgress(bytes_done=1 << 30, bytes_total=4 << 30)
    )
    verdict = service_verdict(model_name="tiny", model=model, deployment=None)
    assert verdict.phase == "WaitingForModel"
    assert condition(verdict, "Ready") == ("False", "WaitingForModel")
    model_ready = next(c for c in verdict.conditions if c.type == "ModelReady")
    assert model_ready.reason == "Downloading"
    assert "25%" in model_ready.message


def test_a_failed_model_fails_the_service_with_the_models_reason() -> None:
    degraded = Condition(
        type="Degraded",
        status="True",
        reason="ChecksumMismatch",
        message="sha256 differs",
        last_transition_time="2025-01-01T00:00:00Z",
    )
    verdict = service_verdict(
        model_name="tiny", model=with_phase(MODEL, "Failed", conditions=[degraded]), deployment=None
    )
    assert verdict.phase == "Failed"
    assert condition(verdict, "Degraded") == ("True", "ModelFailed")
    assert condition(verdict, "ModelReady") == ("False", "ChecksumMismatch")


def test_a_model_whose_download_pod_cannot_start_is_waited_for_with_the_schedulers_reason() -> None:
    blocked = Condition(
        type="Degraded",
        status="True",
        reason="Unschedulable",
        message="download pod p cannot be scheduled: 0/4 nodes are available",
        last_transition_time="2025-01-01T00:00:00Z",
    )
    verdict = service_verdict(
        model_name="tiny", model=with_phase(MODEL, "Pending", conditions=[blocked]), deployment=None
    )
    assert verdict.phase == "WaitingForModel"
    model_ready = next(c for c in verdict.conditions if c.type == "ModelReady")
    assert model_ready.reason == "Unschedulable"
    assert "0/4 nodes are available" in model_ready.message


def test_all_replicas_ready_is_ready() -> None:
    verdict = service_verdict(
        model_name="tiny", model=MODEL, deployment=deployment(replicas=2, ready_replicas=2)
    )
    assert verdict.phase == "Ready"
    assert condition(verdict, "Ready") == ("True", "ReplicasReady")
    assert condition(verdict, "Progressing") == ("False", "RolloutComplete")
    assert (verdict.replicas, verdict.ready_replicas) == (2, 2)


def test_scaled_to_zero_says_so_in_its_phase_and_who_brings_it_back() -> None:
    off = service_verdict(model_name="tiny", model=MODEL, deployment=deployment(replicas=0))
    idling = service_verdict(
        model_name="tiny", model=MODEL, deployment=deployment(replicas=0), wakes_on_request=True
    )

    assert (off.phase, idling.phase) == ("ScaledToZero", "ScaledToZero")
    assert condition(off, "Ready") == condition(idling, "Ready") == ("True", "ScaledToZero")
    assert "scale it up" in message(off, "Ready")
    assert "the gateway starts a replica on the next request" in message(idling, "Ready")


def test_pods_still_stopping_at_zero_are_counted_in_the_message() -> None:
    stopping = deployment(replicas=0, ready_replicas=1)
    stopping["status"]["replicas"] = 1
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=stopping)
    assert verdict.phase == "ScaledToZero"
    assert "1 pod(s) still stopping" in message(verdict, "Ready")


def test_starting_pods_are_deploying() -> None:
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=deployment(ready_replicas=0))
    assert verdict.phase == "Deploying"
    assert condition(verdict, "Progressing") == ("True", "RollingOut")


def test_pods_short_of_gpus_wait_for_gpu() -> None:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    verdict = service_verdict(
        model_name="tiny", model=MODEL, deployment=deployment(), pods=[pending_pod(message)]
    )
    assert verdict.phase == "WaitingForGPU"
    assert condition(verdict, "Degraded") == ("True", "InsufficientGPU")
    assert verdict.scheduling == message


def test_other_scheduling_failures_are_unschedulable() -> None:
    message = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    verdict = service_verdict(
        model_name="tiny", model=MODEL, deployment=deployment(), pods=[pending_pod(message)]
    )
    assert verdict.phase == "Pending"
    assert condition(verdict, "Ready") == ("False", "Unschedulable")
    assert verdict.scheduling == message


def test_crash_looping_pods_degrade_the_service_with_the_exit_reason() -> None:
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=deployment(), pods=[crashing_pod()])
    assert verdict.phase == "Failed"
    degraded = next(c for c in verdict.conditions if c.type == "Degraded")
    assert degraded.reason == "CrashLoop"
    assert "failed to load model" in degraded.message


def test_a_surge_pod_waiting_for_a_gpu_degrades_but_keeps_a_serving_service_ready() -> None:
    rollout = deployment(replicas=1, ready_replicas=1, updated=0)
    pods = [pending_pod("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")]
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=rollout, pods=pods)
    assert verdict.phase == "Ready"
    assert condition(verdict, "Degraded") == ("True", "InsufficientGPU")
    assert condition(verdict, "Progressing") == ("True", "RollingOut")


def test_terminating_pods_are_ignored() -> None:
    pod = crashing_pod()
    pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=deployment(), pods=[pod])
    assert verdict.phase == "Deploying"


def test_a_missing_deployment_is_being_created() -> None:
    verdict = service_verdict(model_name="tiny", model=MODEL, deployment=None)
    assert verdict.phase == "Deploying"


def host_condition(status: str, reason: str, message: str = "") -> dict[str, str]:
    return {"type": "HostServing", "status": status, "reason": reason, "message": message}


def host_verdict(host: dict[str, str] | None, *, replicas: int = 1) -> Any:
    return service_verdict(
        model_name="tiny",
        model=MODEL,
        deployment=None,
        served_by_host=True,
        host_serving=host,
        desired_replicas=replicas,
    )


def test_a_host_service_waits_for_an_agent_until_one_reports() -> None:
    verdict = host_verdict(None)
    assert verdict.phase == "Deploying"
    assert condition(verdict, "Ready") == ("False", "WaitingForHostAgent")
    assert (verdict.replicas, verdict.ready_replicas) == (0, 0)


def test_a_host_service_is_ready_with_one_server_when_the_agent_serves_it() -> None:
    verdict = host_verdict(host_condition("True", "Serving", "serving http://127.0.0.1:18080/v1 on host a"))
    assert verdict.phase == "Ready"
    assert condition(verdict, "Ready") == ("True", "ServedByHostAgent")
    assert (verdict.replicas, verdict.ready_replicas) == (1, 1)


def test_a_crashing_host_server_is_degraded_with_the_agents_reason() -> None:
    verdict = host_verdict(host_condition("False", "Crashed", "llama-server exited with code 1"))
    assert verdict.phase == "Deploying"
    assert condition(verdict, "Degraded") == ("True", "Crashed")
    assert condition(verdict, "Ready") == ("False", "Crashed")
    assert (verdict.replicas, verdict.ready_replicas) == (1, 0)


def test_a_starting_host_server_says_what_the_agent_is_doing() -> None:
    verdict = host_verdict(host_condition("False", "Starting", "llama-server is loading the model"))
    assert condition(verdict, "Ready") == ("False", "Starting")
    assert condition(verdict, "Degraded") == ("False", "AsExpected")


def test_a_stopped_agent_leaves_the_service_waiting_for_another() -> None:
    verdict = host_verdict(host_condition("False", "AgentStopped", "the agent on host a stopped"))
    assert condition(verdict, "Ready") == ("False", "WaitingForHostAgent")
    assert (verdict.replicas, verdict.ready_replicas) == (0, 0)


def test_a_host_service_scaled_to_zero_is_ready_with_no_server() -> None:
    verdict = host_verdict(host_condition("False", "ScaledToZero"), replicas=0)
    assert verdict.phase == "ScaledToZero"
    assert condition(verdict, "Ready") == ("True", "ScaledToZero")
    assert (verdict.replicas, verdict.ready_replicas) == (0, 0)


def test_an_invalid_spec_fails_with_reason_invalid_spec() -> None:
    verdict = invalid_spec_verdict("spec.extraArgs may not set --port")
    assert verdict.phase == "Failed"
    assert condition(verdict, "Ready") == ("False", "InvalidSpec")
    assert condition(verdict, "Degraded") == ("True", "InvalidSpec")


def test_a_missing_model_is_degraded_because_someone_must_act() -> None:
    verdict = service_verdict(model_name="tiny", model=None, deployment=None)
    assert condition(verdict, "Degraded") == ("True", "ModelNotFound")
