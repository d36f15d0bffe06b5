"""From the manager's flags to its controllers: one path sets up both kinds alike, on the manager's registry."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from controller.__main__ import setup_controllers
from controller.kube import EventRecorder
from controller.options import parse_flags
from controller.runtime.manager import Manager, ManagerOptions

CONTROLLERS = ("model", "inferenceservice")


def manager_from(argv: list[str]) -> CollectorRegistry:
    """Set up the controllers as `llmkube-controller argv` does, and return the manager's registry."""
    flags = parse_flags(argv, environ={})
    client: Any = object()  # setting up only wires informers; nothing is sent before the manager runs
    registry = CollectorRegistry()
    manager = Manager(client, options=ManagerOptions(health_port=0), registry=registry)
    recorder = EventRecorder(client, component="llmkube-controller")
    setup_controllers(manager, flags, config=flags.config, recorder=recorder)
    return registry


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_max_concurrent_reconciles_sets_the_workers_of_both_controllers(controller: str) -> None:
    registry = manager_from(["--max-concurrent-reconciles", "7"])
    workers = registry.get_sample_value(
        "controller_runtime_max_concurrent_reconciles", {"controller": controller}
    )
    assert workers == 7


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_both_controllers_default_to_the_documented_thirty_two_workers(controller: str) -> None:
    registry = manager_from([])
    workers = registry.get_sample_value(
        "controller_runtime_max_concurrent_reconciles", {"controller": controller}
    )
    assert workers == 32


@pytest.mark.parametrize("series", ["llmkube_models", "llmkube_inferenceservices"])
def test_the_domain_metrics_of_both_controllers_are_on_the_managers_registry(series: str) -> None:
    registry = manager_from([])
    assert registry.get_sample_value(series, {"phase": "Ready"}) == 0


def test_model_download_metrics_are_on_the_managers_registry() -> None:
    registry = manager_from([])
    assert registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "url"}) == 0
