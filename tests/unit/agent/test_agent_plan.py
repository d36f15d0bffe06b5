from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from llmkube.agent.options import AgentOptions
from llmkube.agent.plan import is_ours, server_plan

OPTIONS = AgentOptions(cache_dir=Path("/cache"), host_address="10.0.0.5", host_name="mac-1")


def isvc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "chat", "namespace": "ns", "uid": "u-1", "generation": 1},
        "spec": {"modelRef": {"name": "m"}, "accelerator": {"type": "metal"}, **spec},
    }


MODEL = from_wire(
    {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "Model",
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": {"source": {"url": "https://example.org/m.gguf"}},
    },
    Model,
)


def plan_for(obj: dict[str, Any]) -> Any:
    return server_plan(from_wire(obj, InferenceService), MODEL, options=OPTIONS)


def test_cpu_services_are_left_to_the_cluster() -> None:
    assert not is_ours(isvc(accelerator={"type": "cpu"}), OPTIONS)


def test_a_service_pinned_to_another_host_is_not_ours() -> None:
    assert not is_ours(isvc(nodeSelector={"kubernetes.io/hostname": "mac-2"}), OPTIONS)


def test_a_service_pinned_to_this_host_is_ours() -> None:
    assert is_ours(isvc(nodeSelector={"kubernetes.io/hostname": "mac-1"}), OPTIONS)


def test_metal_servers_offload_every_layer_and_bind_the_host_address() -> None:
    args = plan_for(isvc()).arguments("/cache/k/model.gguf", None, 18080)
    assert args[args.index("--n-gpu-layers") + 1] == "999"
    assert args[args.index("--host") + 1] == "10.0.0.5"
    assert args[args.index("--port") + 1] == "18080"


def test_host_servers_are_named_after_their_service() -> None:
    args = plan_for(isvc()).arguments("/cache/k/model.gguf", None, 18080)
    assert args[args.index("--alias") + 1] == "chat"


def test_a_context_size_change_changes_the_plan() -> None:
    assert plan_for(isvc(contextSize=512)) != plan_for(isvc(contextSize=1024))


def test_a_replica_count_change_keeps_the_plan() -> None:
    assert plan_for(isvc(replicas=1)) == plan_for(isvc(replicas=2))


def test_the_model_is_fetched_into_its_cache_key_directory() -> None:
    plan = plan_for(isvc())
    assert plan.fetch.model_path(Path("/cache")) == Path("/cache") / plan.fetch.cache_key / "model.gguf"
    assert "--url" in plan.fetch.argv


def test_a_pvc_source_cannot_be_served_from_a_host() -> None:
    model = attrs.evolve(
        MODEL,
        spec=attrs.evolve(
            MODEL.spec,
            source=from_wire({"pvc": {"claimName": "c", "path": "/m.gguf"}}, type(MODEL.spec.source)),
        ),
    )
    plan = server_plan(from_wire(isvc(), InferenceService), model, options=OPTIONS)
    assert plan.fetch.unsupported is not None
    assert "url or huggingFace" in plan.fetch.unsupported
