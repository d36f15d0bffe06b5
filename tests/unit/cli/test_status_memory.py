from __future__ import annotations

from rich.console import Console

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from llmkube.cli.status import _service_section

GIB = 1 << 30


def rendered(status: dict[str, object]) -> str:
    isvc = from_wire(
        {
            "apiVersion": "inference.llmkube.dev/v1alpha1",
            "kind": "InferenceService",
            "metadata": {"name": "chat", "namespace": "ns"},
            "spec": {"modelRef": {"name": "m"}, "accelerator": {"type": "nvidia"}},
            "status": status,
        },
        InferenceService,
    )
    console = Console(record=True, width=300)
    _service_section(console, isvc)
    return console.export_text()


def test_status_shows_the_plan_per_gpu_and_what_llama_server_allocated() -> None:
    text = rendered(
        {
            "memory": {
                "planned": {
                    "gpuCount": 2,
                    "contextSize": 16384,
                    "parallelSlots": 4,
                    "weightsSource": "tensors",
                    "weightsBytes": 8 * GIB,
                    "kvBytes": 2 * GIB,
                    "computeBytes": GIB,
                    "overheadBytes": GIB,
                    "totalBytes": 12 * GIB,
                    "hostBytes": GIB,
                    "perGPUBytes": [6 * GIB, 5 * GIB],
                    "summary": "8.0 GiB weights + 2.0 GiB KV (ctx 16384) + 2.0 GiB compute and overhead",
                },
                "allocated": {
                    "weightsBytes": 8 * GIB,
                    "kvBytes": 2 * GIB,
                    "computeBytes": GIB,
                    "totalBytes": 11 * GIB,
                },
            }
        }
    )

    assert "12.0 GiB planned (8.0 GiB weights + 2.0 GiB KV (ctx 16384)" in text
    assert "per GPU 6.0 GiB, 5.0 GiB" in text
    assert "11.0 GiB reported by llama-server" in text


def test_status_without_a_plan_shows_no_memory_line() -> None:
    assert "Memory" not in rendered({"phase": "Deploying"})
