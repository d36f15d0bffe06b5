from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.builders.conditions import DesiredCondition
from controller.builders.inferenceservice_status import (
    Placement,
    ServiceVerdict,
    desired_status,
    does_not_fit_verdict,
    owned_view,
    status_change,
    status_differs,
    transition,
)
from tests.unit.builders.conftest import model_from, ready

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
HOST_SERVING = {
    "type": "HostServing",
    "status": "True",
    "reason": "Serving",
    "message": "llama-server on mac-1",
    "lastTransitionTime": "2025-01-01T00:00:00Z",
}


def verdict(phase: str = "Ready", ready: str = "True", reason: str = "ReplicasReady") -> ServiceVerdict:
    return ServiceVerdict(
        phase=phase,
        conditions=(
            DesiredCondition(type="Ready", status=ready, reason=reason, message="1/1 replicas ready"),
            DesiredCondition(type="ModelReady", status="True", reason="ModelReady", message="cached"),
        ),
        replicas=1,
        ready_replicas=1 if ready == "True" else 0,
    )


def status_of(
    v: ServiceVerdict, *, stored: dict[str, Any] | None = None, now: datetime = NOW
) -> dict[str, Any]:
    return desired_status(
        raw_status=stored,
        verdict=v,
        placement=Placement(selector="a=b", endpoint="http://x/v1", gpu_count=2, tensor_split="1,1"),
        generation=3,
        now=now,
    )


def test_status_carries_scale_selector_and_gpu_shape() -> None:
    status = status_of(verdict())
    assert (status["selector"], status["gpuCount"], status["tensorSplit"]) == ("a=b", 2, "1,1")
    assert (status["replicas"], status["readyReplicas"], status["observedGeneration"]) == (1, 1, 3)


def test_a_second_pass_with_the_same_verdict_changes_nothing() -> None:
    first = status_of(verdict())
    again = status_of(verdict(), stored=first, now=NOW + timedelta(minutes=5))
    assert not status_differs(first, again)


def test_the_host_agents_condition_neither_counts_as_a_change_nor_is_sent() -> None:
    ours = status_of(verdict())
    stored = {**ours, "conditions": [HOST_SERVING, *reversed(ours["conditions"])]}
    again = status_of(verdict(), stored=stored)
    assert not status_differs(stored, again)
    assert "HostServing" not in {c["type"] for c in owned_view(again)["conditions"]}


def test_a_flipped_condition_moves_its_transition_time_only() -> None:
    first = status_of(verdict(phase="Deploying", ready="False", reason="Deploying"))
    later = NOW + timedelta(minutes=1)
    second = status_of(verdict(), stored=first, now=later)
    times = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert times == {"Ready": "2025-01-02T03:05:05Z", "ModelReady": "2025-01-02T03:04:05Z"}


def test_a_condition_no_longer_wanted_is_left_out_of_the_body() -> None:
    monitoring = DesiredCondition(type="Monitoring", status="True", reason="ServiceMonitorsApplied")
    first = desired_status(
        raw_status=None,
        verdict=verdict(),
        placement=Placement(),
        generation=1,
        now=NOW,
        extra_conditions=(monitoring,),
    )
    second = desired_status(raw_status=first, verdict=verdict(), placement=Placement(), generation=1, now=NOW)
    assert "Monitoring" not in {c["type"] for c in second["conditions"]}
    assert status_differs(first, second)


def test_a_phase_change_is_a_transition_with_the_ready_reason() -> None:
    before = status_of(verdict(phase="Deploying", ready="False", reason="Deploying"))
    change = transition(
        before, status_of(verdict(phase="WaitingForGPU", ready="False", reason="InsufficientGPU"))
    )
    assert change is not None
    assert (change.type, change.reason) == ("Warning", "InsufficientGPU")
    assert change.message.startswith("Deploying -> WaitingForGPU")


def test_reaching_ready_is_a_normal_event() -> None:
    before = status_of(verdict(phase="Deploying", ready="False", reason="Deploying"))
    change = transition(before, status_of(verdict()))
    assert change is not None
    assert (change.type, change.reason) == ("Normal", "ReplicasReady")


def test_a_new_reason_in_the_same_phase_names_the_reasons_not_the_phase_twice() -> None:
    before = status_of(verdict(phase="WaitingForModel", ready="False", reason="ModelNotFound"))
    change = transition(
        before, status_of(verdict(phase="WaitingForModel", ready="False", reason="WaitingForModel"))
    )
    assert change is not None
    assert change.reason == "WaitingForModel"
    assert change.message.startswith("WaitingForModel: ModelNotFound -> WaitingForModel")
    assert "WaitingForModel -> WaitingForModel" not in change.message


def test_an_unchanged_phase_and_reason_is_no_transition() -> None:
    assert transition(status_of(verdict()), status_of(verdict())) is None


def test_a_status_change_sends_our_part_only_and_carries_its_event() -> None:
    before = status_of(verdict(phase="Deploying", ready="False", reason="Deploying"))
    stored = {**before, "conditions": [HOST_SERVING, *before["conditions"]]}
    change = status_change(
        raw_status=stored, verdict=verdict(), placement=Placement(selector="a=b"), generation=3, now=NOW
    )
    assert change.changed
    assert change.stored == owned_view(before)
    assert "HostServing" not in {c["type"] for c in change.desired["conditions"]}
    assert change.event is not None
    assert change.event.reason == "ReplicasReady"


def test_an_unchanged_status_is_no_change_and_no_event() -> None:
    first = status_of(verdict())
    placement = Placement(selector="a=b", endpoint="http://x/v1", gpu_count=2, tensor_split="1,1")
    change = status_change(raw_status=first, verdict=verdict(), placement=placement, generation=3, now=NOW)
    assert (change.changed, change.event) == (False, None)


def test_the_host_agents_allocation_in_status_memory_is_neither_compared_nor_sent() -> None:
    planned = {"planned": {"gpuCount": 1, "totalBytes": 5}}
    stored = {"phase": "Ready", "memory": {**planned, "allocated": {"totalBytes": 4}}}

    assert owned_view(stored) == {"phase": "Ready", "memory": planned}
    assert not status_differs(stored, {"phase": "Ready", "memory": planned})


def test_a_plan_that_fits_nothing_fails_the_service_with_the_plans_message() -> None:
    model = ready(model_from({"source": {"url": "https://example.com/tiny.gguf"}}))

    failed = does_not_fit_verdict("tiny", model, "needs 40.0 GiB weights; the largest GPU here has 24.0 GiB")

    assert failed.phase == "Failed"
    condition = next(c for c in failed.conditions if c.type == "Ready")
    assert (condition.reason, condition.message) == (
        "DoesNotFit",
        "needs 40.0 GiB weights; the largest GPU here has 24.0 GiB",
    )
