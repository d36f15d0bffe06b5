"""Pure parts of the cluster commands: listing rows, wait verdicts, kubeconfig namespaces, error kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.kube import NotFound
from llmkube.cli.cluster import context_namespace, explained_errors, is_missing_kind
from llmkube.cli.errors import CliError
from llmkube.cli.output import age, human_bytes
from llmkube.cli.views import list_rows, parse_model, parse_service
from llmkube.cli.waiting import Outcome, phase_line, verdict

NS = "ns"


def model(name: str, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"source": {"url": "https://h/m.gguf"}},
    }
    if status:
        obj["status"] = status
    return obj


def service(name: str, model_name: str, *, generation: int = 1, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": NS, "generation": generation},
        "spec": {"modelRef": {"name": model_name}},
    }
    if status:
        obj["status"] = status
    return obj


def condition(type_: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def test_a_model_no_service_uses_gets_its_own_row() -> None:
    rows = list_rows([parse_model(model("a")), parse_model(model("b"))], [parse_service(service("svc", "a"))])
    assert [(r.name, r.model, r.service_phase) for r in rows] == [("b", "b", None), ("svc", "a", "Pending")]


def test_a_service_whose_model_is_missing_says_so() -> None:
    (row,) = list_rows([], [parse_service(service("svc", "gone"))])
    assert row.model_phase == "NotFound"


def test_downloading_phase_shows_percent() -> None:
    (row,) = list_rows(
        [parse_model(model("a", phase="Downloading", progress={"bytesDone": 1, "bytesTotal": 3}))], []
    )
    assert row.model_phase == "Downloading 33%"


def test_verdict_waits_for_the_current_generation() -> None:
    stale = parse_service(service("s", "m", generation=2, phase="Ready", observedGeneration=1))
    assert verdict(None, stale).outcome is Outcome.waiting


def test_verdict_is_ready_when_the_service_is() -> None:
    ready = parse_service(service("s", "m", phase="Ready", observedGeneration=1))
    assert verdict(None, ready).outcome is Outcome.ready


def test_verdict_is_ready_for_a_service_deployed_at_zero_replicas() -> None:
    idle = parse_service(service("s", "m", phase="ScaledToZero", observedGeneration=1))
    assert verdict(None, idle).outcome is Outcome.ready


def test_failed_model_fails_with_its_degraded_reason() -> None:
    failed = parse_model(
        model(
            "m", phase="Failed", conditions=[condition("Degraded", "True", "ChecksumMismatch", "sha differs")]
        )
    )
    result = verdict(failed, None)
    assert (result.outcome, result.reason) == (Outcome.failed, "Model m: ChecksumMismatch: sha differs")


def test_phase_line_names_the_scheduling_reason() -> None:
    isvc = parse_service(
        service("s", "m", phase="WaitingForGPU", scheduling="0/2 nodes: Insufficient nvidia.com/gpu")
    )
    assert phase_line(None, isvc) == (
        "Model Pending, Service WaitingForGPU (0/1 ready): 0/2 nodes: Insufficient nvidia.com/gpu"
    )


def test_phase_line_says_a_host_service_waits_for_an_agent() -> None:
    waiting = "waiting for `llmkube agent` on a host to serve this model"
    isvc = parse_service(
        service(
            "s",
            "m",
            phase="Deploying",
            replicas=0,
            conditions=[condition("Ready", "False", "WaitingForHostAgent", waiting)],
        )
    )
    assert phase_line(None, isvc) == f"Model Pending, Service Deploying (0/0 ready): {waiting}"


def test_phase_line_names_what_degrades_the_service() -> None:
    isvc = parse_service(
        service(
            "s",
            "m",
            phase="Deploying",
            conditions=[condition("Degraded", "True", "Crashed", "llama-server exited with code 1")],
        )
    )
    assert phase_line(None, isvc) == (
        "Model Pending, Service Deploying (0/1 ready): Crashed: llama-server exited with code 1"
    )


def test_phase_line_stays_short_while_a_rollout_only_needs_time() -> None:
    isvc = parse_service(
        service("s", "m", phase="Deploying", conditions=[condition("Ready", "False", "Deploying", "0/1")])
    )
    assert phase_line(None, isvc) == "Model Pending, Service Deploying (0/1 ready)"


def test_context_namespace_comes_from_the_chosen_context(tmp_path: Path) -> None:
    config = {
        "current-context": "a",
        "contexts": [{"name": "a", "context": {"namespace": "team-a"}}, {"name": "b", "context": {}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    assert context_namespace(kubeconfig=str(path), context=None) == "team-a"
    assert context_namespace(kubeconfig=str(path), context="b") is None


def test_a_404_without_object_details_means_the_crds_are_missing() -> None:
    assert is_missing_kind(NotFound("404 page not found", status=404))
    assert not is_missing_kind(NotFound("x", status=404, details={"name": "x", "kind": "models"}))


def test_missing_crds_are_explained_with_the_install_command() -> None:
    with pytest.raises(CliError, match="CRDs are not installed"), explained_errors():
        raise NotFound("404 page not found", status=404)


def test_age_is_compact_like_kubectl() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert age("2026-01-01T23:58:00Z", now=now) == "2m"
    assert age("2025-12-30T00:00:00Z", now=now) == "3d"
    assert age(None) == "-"


def test_human_bytes_uses_binary_units() -> None:
    assert human_bytes(100_000_000) == "95.4 MiB"
