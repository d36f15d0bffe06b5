"""What serving a catalog model takes: weights, KV cache, GPUs and pod resources, before anything is downloaded.

This is the one place the CLI asks. Where the catalog records a model's widths (`shape:`), the answer is the
controller's own memory plan (controller.builders.memory_plan) made from them, so `llmkube catalog` and `llmkube
deploy` show what the controller will plan once the file's header is read (up to the difference between
parameters x bits per weight and the file's exact tensor sizes). Without a shape it falls back to an estimate
from the size alone, deliberately on the safe side: it charges every model the KV cache of a Llama-3-shaped model
of its size (grouped-query attention, f16 cache), which over-counts for sliding-window and MoE models and never
under-counts for the dense ones the catalog carries; the CLI labels those figures "estimate".
"""

from __future__ import annotations

import math

import attrs

from controller.builders.gpu_fit import gib, plan_summary
from controller.builders.llama_args import DEFAULT_CPU_SLOTS, DEFAULT_GPU_SLOTS
from controller.builders.memory_plan import MemoryPlan, memory_plan
from llmkube.catalog.shape import ModelShape, shaped_gguf

# Average bits per weight of llama.cpp quantization types as llama.cpp's quantize tool reports them for
# Llama-shaped models; the "_L" variants keep embeddings and output in Q8_0 and land a little higher.
BITS_PER_WEIGHT: dict[str, float] = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.50,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "IQ4_XS": 4.25,
    "MXFP4": 4.25,
    "Q4_0": 4.55,
    "Q4_1": 5.0,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.85,
    "Q4_K_L": 4.91,
    "Q5_K_S": 5.54,
    "Q5_K_M": 5.69,
    "Q6_K": 6.56,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
}

#: The GPU a catalog default is sized for: 24 GiB (L4, A10G, RTX 4090) is the common denominator of clouds.
REFERENCE_GPU_GIB = 24.0
#: Below this many parameters a model serves well from CPU, so its catalog default asks for no GPU.
CPU_DEFAULT_BELOW_BILLIONS = 2.5
#: KV cache per token of Llama 3 8B (32 layers x 8 KV heads x 128 dims x K and V x 2 bytes); scaled by size.
KV_BYTES_PER_TOKEN_AT_8B = 32 * 8 * 128 * 2 * 2
#: llama.cpp's compute buffers and CUDA context; grows a little with the model.
RUNTIME_OVERHEAD_GIB = 0.5
MAX_GPUS = 8  # Model.spec.gpuCount's range

GIB = 2**30


@attrs.frozen(kw_only=True)
class ServingEstimate:
    weights_gib: float
    kv_cache_gib: float
    #: Weights, KV cache and runtime overhead, for all GPUs together (or host memory when serving on CPU).
    vram_gib: float
    #: GPUs a deployment asks for by default; 0 means the model serves from CPU unless told otherwise.
    gpu_count: int
    cpu: str
    #: Memory request of a CPU-serving pod: the whole model lives in it.
    memory: str
    #: The controller's memory plan when the catalog knows the model's shape; None for a size-only estimate.
    plan: MemoryPlan | None = None

    @property
    def summary(self) -> str:
        """One line for deploy and `catalog info`: the plan's shares, or the size-only estimate, labelled."""
        if self.plan is None:
            return (
                f"~{self.vram_gib:g} GiB estimate (weights ~{self.weights_gib:.1f} GiB, "
                f"KV cache ~{self.kv_cache_gib:.1f} GiB; from the size alone)"
            )
        return memory_line(self.plan)

    @property
    def total(self) -> str:
        """The MEMORY column of `catalog list`."""
        return gib(self.plan.total_bytes) if self.plan is not None else f"~{self.vram_gib:g} GiB (estimate)"


def memory_line(plan: MemoryPlan) -> str:
    """`12.4 GiB: 7.4 GiB weights + ...; 6.2 + 5.8 GiB on 2 GPU(s), 0.4 GiB host`, as deploy and catalog show it."""
    line = f"{gib(plan.total_bytes)}: {plan_summary(plan)}"
    if plan.gpus:
        shares = " + ".join(gib(share.total_bytes).removesuffix(" GiB") for share in plan.gpus)
        line += f"; {shares} GiB on {len(plan.gpus)} GPU(s), {gib(plan.host.total_bytes)} host"
    return line


def weights_gib(*, parameters_billions: float, quantization: str) -> float:
    """Expected size of the GGUF weights; the floor under any memory estimate."""
    return parameters_billions * 1e9 * BITS_PER_WEIGHT[quantization] / 8 / GIB


def kv_cache_gib(*, parameters_billions: float, context_size: int) -> float:
    # Layers and KV heads grow with size, but sublinearly: 0.5B models keep ~1/8, 70B ones ~2.5x of an 8B's.
    scale = min(max(parameters_billions / 8, 0.125), 2.5)
    return context_size * KV_BYTES_PER_TOKEN_AT_8B * scale / GIB


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def _cpus(parameters_billions: float) -> str:
    for below, cpus in ((1, "1"), (4, "2"), (10, "4")):
        if parameters_billions < below:
            return cpus
    return "8"


def estimate_serving(
    *,
    parameters_billions: float,
    quantization: str,
    context_size: int,
    shape: ModelShape | None = None,
    max_context: int | None = None,
    gpu_count: int | None = None,
) -> ServingEstimate:
    """The serving needs at `context_size`; `gpu_count` fixes the GPUs (0: CPU), else they are chosen here."""
    if shape is not None:
        return _planned(
            shape,
            parameters_billions=parameters_billions,
            quantization=quantization,
            context_size=context_size,
            max_context=max_context or context_size,
            gpu_count=gpu_count,
        )
    weights = weights_gib(parameters_billions=parameters_billions, quantization=quantization)
    kv = kv_cache_gib(parameters_billions=parameters_billions, context_size=context_size)
    vram = _round_up(weights + kv + RUNTIME_OVERHEAD_GIB + 0.05 * weights, 0.5)
    if gpu_count is not None:
        gpus = gpu_count
    elif parameters_billions < CPU_DEFAULT_BELOW_BILLIONS:
        gpus = 0
    else:
        gpus = min(MAX_GPUS, math.ceil(vram / REFERENCE_GPU_GIB))
    # Half a GiB above the estimate for the server process, the prompt and the HTTP layer.
    memory = f"{math.ceil(vram + 0.5)}Gi"
    return ServingEstimate(
        weights_gib=weights,
        kv_cache_gib=kv,
        vram_gib=vram,
        gpu_count=gpus,
        cpu=_cpus(parameters_billions),
        memory=memory,
    )


def _planned(
    shape: ModelShape,
    *,
    parameters_billions: float,
    quantization: str,
    context_size: int,
    max_context: int,
    gpu_count: int | None,
) -> ServingEstimate:
    gguf = shaped_gguf(
        shape, parameters_billions=parameters_billions, quantization=quantization, max_context=max_context
    )

    def plan_on(gpus: int) -> MemoryPlan:
        slots = DEFAULT_GPU_SLOTS if gpus > 0 else DEFAULT_CPU_SLOTS
        return memory_plan(gguf, context_size=context_size, parallel_slots=slots, gpu_count=gpus)

    if gpu_count is not None:
        gpus = gpu_count
    elif parameters_billions < CPU_DEFAULT_BELOW_BILLIONS:
        gpus = 0
    else:
        # The smallest count whose largest share fits the reference GPU, as the controller chooses on a cluster.
        gpus = next(
            (n for n in range(1, MAX_GPUS + 1) if _largest_share_gib(plan_on(n)) <= REFERENCE_GPU_GIB),
            MAX_GPUS,
        )
    plan = plan_on(gpus)
    total = plan.total_bytes / GIB
    return ServingEstimate(
        weights_gib=plan.weights_bytes / GIB,
        kv_cache_gib=plan.kv_bytes / GIB,
        vram_gib=_round_up(total, 0.5),
        gpu_count=gpus,
        cpu=_cpus(parameters_billions),
        memory=f"{math.ceil(total + 0.5)}Gi",
        plan=plan,
    )


def _largest_share_gib(plan: MemoryPlan) -> float:
    return max(share.total_bytes for share in plan.gpus) / GIB if plan.gpus else plan.total_bytes / GIB
