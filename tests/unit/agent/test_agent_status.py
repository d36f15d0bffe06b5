from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.builders.allocation_log import ServerAllocation, parse_allocation_log
from llmkube.agent.status import HostServing, condition_body, is_current, serving_verdict
from llmkube.agent.supervisor import CRASHED, SERVING, ServingState

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def isvc(*conditions: dict[str, Any], generation: int = 3) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat", "namespace": "ns", "generation": generation},
        "status": {"conditions": list(conditions)},
    }


def test_serving_says_where_in_its_message() -> None:
    verdict = serving_verdict(
        ServingState(phase=SERVING, ready=True, port=18080),
        local_url="http://10.0.0.5:18080/v1",
        cluster_url="http://chat.ns.svc.cluster.local:8080/v1",
        host="mac-1",
    )
    assert verdict.status == "True"
    assert "http://10.0.0.5:18080/v1" in verdict.message


def test_a_crash_is_not_serving_and_warns() -> None:
    verdict = serving_verdict(
        ServingState(phase=CRASHED, message="exited"), local_url=None, cluster_url="u", host="h"
    )
    assert (verdict.status, verdict.reason, verdict.event_type) == ("False", "Crashed", "Warning")


def test_the_body_holds_only_the_host_serving_condition() -> None:
    body = condition_body(isvc(), HostServing(status="True", reason="Serving", message="m"), now=NOW)
    assert [c["type"] for c in body["status"]["conditions"]] == ["HostServing"]
    assert body["status"]["conditions"][0]["observedGeneration"] == 3


def test_the_transition_time_is_kept_while_the_status_stays() -> None:
    old = {
        "type": "HostServing",
        "status": "False",
        "reason": "Starting",
        "message": "",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    body = condition_body(isvc(old), HostServing(status="False", reason="Crashed", message="m"), now=NOW)
    assert body["status"]["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"


def test_the_transition_time_moves_when_the_status_flips() -> None:
    old = {
        "type": "HostServing",
        "status": "False",
        "reason": "Starting",
        "message": "",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    body = condition_body(isvc(old), HostServing(status="True", reason="Serving", message="m"), now=NOW)
    assert body["status"]["conditions"][0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"


def test_a_condition_from_an_older_generation_is_not_current() -> None:
    stored = {
        "type": "HostServing",
        "status": "True",
        "reason": "Serving",
        "message": "m",
        "observedGeneration": 2,
    }
    assert not is_current(isvc(stored), HostServing(status="True", reason="Serving", message="m"))


LOADED = parse_allocation_log(
    [
        "load_tensors:   CPU_Mapped model buffer size =    97.34 MiB",
        "llama_context:        CPU  output buffer size =     0.38 MiB",
        "llama_kv_cache:        CPU KV buffer size =    45.00 MiB",
        "sched_reserve:        CPU compute buffer size =   104.50 MiB",
    ]
)


def serving(allocation: ServerAllocation | None) -> HostServing:
    return serving_verdict(
        ServingState(phase=SERVING, ready=True, port=18080, allocation=allocation),
        local_url="http://127.0.0.1:18080/v1",
        cluster_url="u",
        host="h",
    )


def test_a_serving_verdict_carries_what_llama_server_allocated_into_status_memory() -> None:
    body = condition_body(isvc(), serving(LOADED), now=NOW)

    allocated = body["status"]["memory"]["allocated"]
    assert allocated["kvBytes"] == 45 << 20
    assert allocated["totalBytes"] == round((97.34 + 0.38 + 45 + 104.5) * (1 << 20))
    assert allocated["devices"] == ["CPU", "CPU_Mapped"]


def test_a_stored_condition_without_the_allocation_is_not_current() -> None:
    wanted = serving(LOADED)
    stored = condition_body(isvc(), serving(None), now=NOW)["status"]["conditions"][0]

    assert not is_current(isvc(stored), wanted)
    assert is_current(isvc(stored), serving(None))
