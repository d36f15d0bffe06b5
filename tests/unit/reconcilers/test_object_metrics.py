"""Per-object status series: what each Model and InferenceService reports at scrape time."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from controller.reconcilers.object_metrics import register_inferenceservice_status, register_model_status


def obj(name: str, *, spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ml", "name": name}, "spec": spec or {}, "status": status}


def degraded(reason: str) -> dict[str, str]:
    return {"type": "Degraded", "status": "True", "reason": reason}


def test_each_model_reports_its_current_phase_only() -> None:
    registry = CollectorRegistry()
    models = [obj("a", phase="Ready"), obj("b")]
    register_model_status(lambda: models, registry)

    assert (
        registry.get_sample_value("llmkube_model_phase", {"namespace": "ml", "model": "a", "phase": "Ready"})
        == 1
    )
    assert (
        registry.get_sample_value("llmkube_model_phase", {"namespace": "ml", "model": "a", "phase": "Failed"})
        is None
    )
    assert (
        registry.get_sample_value(
            "llmkube_model_phase", {"namespace": "ml", "model": "b", "phase": "Unknown"}
        )
        == 1
    )


def test_a_degraded_model_names_its_reason_while_its_retry_downloads() -> None:
    registry = CollectorRegistry()
    models = [obj("a", phase="Downloading", conditions=[degraded("NetworkError")])]
    register_model_status(lambda: models, registry)

    labels = {"namespace": "ml", "model": "a", "reason": "NetworkError"}
    assert registry.get_sample_value("llmkube_model_degraded", labels) == 1


def test_a_model_whose_degraded_condition_is_false_reports_no_degraded_series() -> None:
    registry = CollectorRegistry()
    condition = {"type": "Degraded", "status": "False", "reason": "AsExpected"}
    models = [obj("a", phase="Ready", conditions=[condition])]
    register_model_status(lambda: models, registry)

    labels = {"namespace": "ml", "model": "a", "reason": "AsExpected"}
    assert registry.get_sample_value("llmkube_model_degraded", labels) is None


def test_download_progress_is_reported_only_while_the_status_carries_it() -> None:
    registry = CollectorRegistry()
    models = [
        obj("a", phase="Downloading", progress={"bytesDone": 4096, "bytesTotal": 8192}),
        obj("b", phase="Ready"),
    ]
    register_model_status(lambda: models, registry)

    assert (
        registry.get_sample_value("llmkube_model_download_progress_bytes", {"namespace": "ml", "model": "a"})
        == 4096
    )
    assert (
        registry.get_sample_value("llmkube_model_download_progress_bytes", {"namespace": "ml", "model": "b"})
        is None
    )


def test_a_service_reports_desired_and_ready_replicas() -> None:
    registry = CollectorRegistry()
    services = [obj("chat", spec={"replicas": 3}, phase="Deploying", readyReplicas=1), obj("new")]
    register_inferenceservice_status(lambda: services, registry)

    chat = {"namespace": "ml", "inferenceservice": "chat"}
    new = {"namespace": "ml", "inferenceservice": "new"}
    assert registry.get_sample_value("llmkube_inferenceservice_desired_replicas", chat) == 3
    assert registry.get_sample_value("llmkube_inferenceservice_ready_replicas", chat) == 1
    assert registry.get_sample_value("llmkube_inferenceservice_phase", {**chat, "phase": "Deploying"}) == 1
    # spec.replicas defaults to 1; nothing is ready before the first status.
    assert registry.get_sample_value("llmkube_inferenceservice_desired_replicas", new) == 1
    assert registry.get_sample_value("llmkube_inferenceservice_ready_replicas", new) == 0


def test_an_autoscaled_service_wants_what_the_autoscaler_set() -> None:
    registry = CollectorRegistry()
    spec = {"replicas": 1, "autoscaling": {"minReplicas": 2, "maxReplicas": 8}}
    services = [obj("chat", spec=spec, replicas=5, readyReplicas=5)]
    register_inferenceservice_status(lambda: services, registry)

    labels = {"namespace": "ml", "inferenceservice": "chat"}
    assert registry.get_sample_value("llmkube_inferenceservice_desired_replicas", labels) == 5


def test_a_deleted_object_stops_being_reported() -> None:
    registry = CollectorRegistry()
    services = [obj("chat", phase="Ready", readyReplicas=1)]
    register_inferenceservice_status(lambda: services, registry)
    services.clear()

    labels = {"namespace": "ml", "inferenceservice": "chat"}
    assert registry.get_sample_value("llmkube_inferenceservice_ready_replicas", labels) is None
