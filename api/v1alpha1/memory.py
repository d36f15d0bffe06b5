"""`InferenceService.status.memory`: the memory the controller planned, and what llama-server allocated.

Two writers share it: the controller writes `planned` from the Model's GGUF facts before any pod exists, and the
host agent writes `allocated` from the buffer lines its llama-server logs while loading, so the plan and the
allocation can be read side by side (`kubectl get isvc NAME -o jsonpath='{.status.memory}'`).
"""

from __future__ import annotations

import attrs

from api.fields import spec_field


@attrs.frozen(kw_only=True)
class PlannedMemory:
    gpu_count: int = spec_field(description="GPUs the plan is for (0: the whole server in host memory).")
    context_size: int = spec_field(description="--ctx-size the plan is for, after llama.cpp's padding.")
    parallel_slots: int = spec_field(description="--parallel the plan is for.")
    weights_source: str = spec_field(
        description="tensors (the file's tensor sizes) or parameters (parameter count x bits per weight).",
        enum=["tensors", "parameters"],
    )
    weights_bytes: int = spec_field(description="Model weights.")
    kv_bytes: int = spec_field(description="KV cache for the context and slots.")
    compute_bytes: int = spec_field(description="Compute graph and output buffers.")
    overhead_bytes: int = spec_field(
        description="Stated overhead: GPU runtime per GPU, the process on the host."
    )
    total_bytes: int = spec_field(description="Everything, host and GPUs together.")
    host_bytes: int = spec_field(description="Host memory of the server (the memory request of a CPU pod).")
    per_gpu_bytes: list[int] | None = spec_field(
        default=None, wire="perGPUBytes", description="Each GPU's share, in device order."
    )
    summary: str = spec_field(description="The plan in words, as the Fits condition states it.")


@attrs.frozen(kw_only=True)
class AllocatedMemory:
    weights_bytes: int = spec_field(description="Model buffers llama-server reported.")
    kv_bytes: int = spec_field(description="KV cache buffers llama-server reported.")
    compute_bytes: int = spec_field(description="Compute graph and output buffers llama-server reported.")
    total_bytes: int = spec_field(description="All buffers llama-server reported (no runtime overhead).")
    devices: list[str] | None = spec_field(
        default=None, description="llama.cpp buffer types seen (CPU, CUDA0, Metal, ...)."
    )


@attrs.frozen(kw_only=True)
class MemoryStatus:
    planned: PlannedMemory | None = spec_field(
        default=None, description="The controller's plan, made before any pod exists."
    )
    allocated: AllocatedMemory | None = spec_field(
        default=None,
        description="What the running llama-server allocated, from its log (written by the host agent).",
    )
